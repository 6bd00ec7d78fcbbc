"""TFT: training from traces — filter, relabel, synthesize, validate, fine-tune (see pipeline.py)."""
