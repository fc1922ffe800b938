"""Content fingerprints of model folders: what the embedding cache and the ONNX export are keyed on."""

from __future__ import annotations

import hashlib
from pathlib import Path

_CHUNK = 1 << 20


def folder_fingerprint(folder: Path) -> str:
    """sha256 over every file's relative path and content: the model's identity."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()
