"""A cache of STS embeddings under pytest's cache dir, so unchanged reruns cost almost nothing.

On by default (``--embed-cache=off`` to disable) because a hit is exactly what
a fresh encode would return: the key covers every input that determines the
vectors, namely the content of every file of the model folder, the device,
the batch size, the plugin / torch / sentence-transformers / transformers / tokenizers / onnxruntime versions,
and the exact sentences in order.  Any change is a miss, never a stale hit.
CI can keep ``.pytest_cache`` between runs (see examples/), and
``--cache-clear`` empties it.  Latency and memory never use it.

Entries are ``.npy`` files written atomically (core/atomic.py) and read with
``allow_pickle=False``; an unreadable or mis-shaped entry counts as a miss
and is rewritten.  A folder that cannot be written (read-only, full) warns once
and the run goes on uncached, as pytest's own cache does.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

from pytest_embedeval.core.atomic import write_bytes_atomic
from pytest_embedeval.core.environment import package_version

CACHE_FORMAT = "1"


def encoder_identity(model_fingerprint: str, device: str, batch_size: int, variant: str = "") -> str:
    """Everything but the sentences that decides the vectors."""
    versions = [package_version(name) for name in (
        "pytest-embedeval", "torch", "sentence-transformers", "transformers", "tokenizers", "onnxruntime")]
    return "\0".join([CACHE_FORMAT, model_fingerprint, device, str(batch_size), variant, *map(str, versions)])


def cache_key(identity: str, sentences: Sequence[str]) -> str:
    digest = hashlib.sha256(identity.encode() + b"\0")
    for sentence in sentences:
        digest.update(sentence.encode() + b"\x1e")
    return digest.hexdigest()[:32]


class EmbeddingCache:
    """``.npy`` files named by :func:`cache_key` in one folder; hits and misses are counted."""

    def __init__(self, folder: Path, warn: Callable[[str], None] | None = None) -> None:
        self.folder = folder
        self.hits = 0
        self.misses = 0
        self.writable = True  # until a write fails: then warn once, and stop trying
        self.warn = warn or (lambda message: warnings.warn(message, RuntimeWarning, stacklevel=4))

    def get(self, key: str, rows: int) -> Any | None:
        import numpy as np

        path = self.folder / f"{key}.npy"
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError):  # missing, truncated or not an array
            return None
        if array.ndim != 2 or len(array) != rows or not np.isfinite(array).all():
            return None
        return array

    def put(self, key: str, embeddings: Any) -> None:
        import numpy as np

        if not self.writable:
            return
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(embeddings, dtype=np.float32), allow_pickle=False)
        try:
            write_bytes_atomic(self.folder / f"{key}.npy", buffer.getvalue())
        except OSError as exc:
            self.writable = False
            self.warn(f"embedding cache: could not write to {self.folder} ({exc.strerror or exc}); "
                      "this run goes on without storing embeddings")

    def encoder(self, identity: str, encode: Callable[[list[str]], Any]) -> Callable[[list[str]], Any]:
        """``encode`` wrapped: a hit skips it, a miss stores its result (see :func:`encoder_identity`)."""

        def cached(sentences: list[str]) -> Any:
            key = cache_key(identity, sentences)
            found = self.get(key, len(sentences))
            if found is not None:
                self.hits += 1
                return found
            self.misses += 1
            embeddings = encode(sentences)
            self.put(key, embeddings)
            return embeddings

        return cached
