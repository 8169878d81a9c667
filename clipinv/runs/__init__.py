"""Runs: what a run computes, written down (planning), what it costs, large runs as Ray tasks on a
cluster, and a run repeated from its record (replay)."""
