"""Benchmarks for avisa (`make bench`): every figure is a ratio to a raw baseline."""
