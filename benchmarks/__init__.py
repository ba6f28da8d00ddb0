"""Benchmarks of the approval workflows, in-process and served: ``python -m benchmarks``."""
