"""Oracles: signed meter data in, verified emissions and Merkle-sum commitments out."""
