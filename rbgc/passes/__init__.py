"""The compiler passes, one module each. Empty on purpose: the order lives in pipeline.py."""
