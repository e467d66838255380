"""Exports and pages: html, graphml, json, csv and Cypher scripts of a subgraph, and the whole-vocabulary map."""
