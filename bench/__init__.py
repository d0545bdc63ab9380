"""Benchmarks and reliability runs against the local stack; they print figures, never assert speed."""
