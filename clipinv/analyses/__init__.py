"""Analyses: one module per claim of the paper (and per book section), plus the statistics and the
wording of numbers they report with."""
