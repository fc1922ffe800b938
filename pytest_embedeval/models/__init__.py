"""Layer 2, models: what a run evaluates (targets and their identity) and how each is loaded.

Targets, aliases, precision/backend variants, the random-weight zoo, the ONNX
backend and the per-session pool of loaded models.  Imports core only.
"""
