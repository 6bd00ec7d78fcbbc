"""Evaluation: the TFT benchmark's per-turn metrics and judge, batched runs and reports, run
comparison, and closed-loop tasks against the real database (`resto eval …`, see commands.py)."""
