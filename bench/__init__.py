"""Benchmarks and load scripts (not tests)."""
