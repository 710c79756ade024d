"""Real servers on loopback for tests and benchmarks (no pytest imports here)."""
