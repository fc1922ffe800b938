"""Shared by the benchmark scripts: where the STS-B dev split is, and how to print a table."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from pytest_embedeval.measure.data import StsDataset, load_sts

REPO = Path(__file__).resolve().parents[1]


def sts_arguments(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    default = os.environ.get("EMBEDEVAL_STS_PATH") or str(REPO.parent / "shared" / "data" / "stsbenchmark")
    parser.add_argument("--sts-path", type=Path, default=Path(default), help="STS-B folder (default: %(default)s)")
    return parser


def unique_sentences(path: Path, count: int) -> tuple[StsDataset, list[str]]:
    data = load_sts(path, "dev")
    unique = list(dict.fromkeys(data.sentences1 + data.sentences2))
    return data, unique[:count]


def markdown(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])
