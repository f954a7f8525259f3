"""Benchmarks (`make bench`): never timed tests; numbers go to the README's performance section."""
