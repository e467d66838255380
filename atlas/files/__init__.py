"""Files on this machine: a model's tokenizer and input-embedding rows, and where an export is written."""
