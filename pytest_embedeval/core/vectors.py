"""Unit-length rows: what cosine similarity needs, in one place (numpy is imported only when called)."""

from __future__ import annotations

from typing import Any


def unit_rows(vectors: Any, dtype: Any = None) -> Any:
    """Each row divided by its L2 norm; a zero row stays zero (as sklearn's ``normalize``).  ``dtype``:
    the precision to compute in (None keeps the input's)."""
    import numpy as np

    vectors = np.asarray(vectors, dtype=dtype)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0.0, 1.0, norms)
