"""Runs: planning what a run computes and what it costs, Ray clusters, and the offline dress rehearsal."""
