"""Content fingerprints: of model folders (the embedding cache and the ONNX export are keyed on them) and of
data sets (baselines and caches are keyed on them).  hashlib is imported where it is used: the plugin's own
import is paid by every pytest run in the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

_CHUNK = 1 << 20


def folder_fingerprint(folder: Path) -> str:
    """sha256 over every file's relative path and content: the model's identity."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def content_fingerprint(*groups: Iterable[Sequence[object]]) -> str:
    """16 hex digits of sha256 over groups of records: a record's fields (as ``str``) joined by U+001F and
    ended by U+001E, groups separated by U+001D, so no two different contents hash the same text."""
    import hashlib

    digest = hashlib.sha256()
    for number, group in enumerate(groups):
        if number:
            digest.update(b"\x1d")
        for record in group:
            digest.update(("\x1f".join(map(str, record)) + "\x1e").encode())
    return digest.hexdigest()[:16]
