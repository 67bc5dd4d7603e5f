"""Benchmarks: `make bench` (bench/run.py) measures Gatehouse against this machine's floor."""
