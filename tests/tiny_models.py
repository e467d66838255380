"""Small real Hugging Face models built offline: a trained byte-level BPE tokenizer and random Qwen2 weights."""

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

CORPUS = ["a list of lists", "List the items", "LIST all", "the cat sat on the mat", "cats and dogs"] * 20
PADDING_ROWS = 13


def byte_bpe_tokenizer(vocab_size: int) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(CORPUS, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>")
    fast.add_special_tokens({"additional_special_tokens": ["<|im_start|>"]})
    return fast


def tiny_qwen(folder: Path, seed: int = 0) -> tuple[Qwen2ForCausalLM, int]:
    """Save a tiny Qwen2 whose embedding matrix has PADDING_ROWS more rows than its tokenizer has tokens."""
    tokenizer = byte_bpe_tokenizer(300)
    n_tokens = len(tokenizer)
    config = Qwen2Config(
        vocab_size=n_tokens + PADDING_ROWS,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.save_pretrained(folder, max_shard_size="60KB")  # several shards with an index file
    tokenizer.save_pretrained(folder)
    return model, n_tokens
