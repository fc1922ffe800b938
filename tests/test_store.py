"""Baseline files (gate/store.py): a stable reviewable format, and every way they can be broken."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_embedeval.gate.entries import ENTRY_TYPES
from pytest_embedeval.gate.store import SCHEMA, BaselineStore
from pytest_embedeval.errors import BaselineError
from pytest_embedeval.measure.latency import summarise
from pytest_embedeval.measure.sts import StsResult

GOLDEN = Path(__file__).parent / "golden" / "baseline_minilm.json"
ENVIRONMENT = {"cpu": "Test CPU", "cpu_count": 2, "torch_threads": 2, "gpu": None,
               "versions": {"torch": "2.13.0", "pytest-embedeval": "0.1.0"}, "git_commit": None,
               "date": "2026-11-24T00:00:00+00:00"}


def make_entry(result: object) -> dict:
    """An entry as the gate writes it: the result's kind of entry, with the environment."""
    return {**ENTRY_TYPES[result.KIND].write(result), "environment": ENVIRONMENT}


def entries() -> dict[str, dict[str, dict]]:
    sts = StsResult(model="minilm", device="cpu", dataset="stsb", split="dev", source="/data/sts-dev.csv",
                    fingerprint="eedcd2dd2821f58d", n_pairs=3, n_unique=6, batch_size=32,
                    spearman=86.716311979, pearson=86.9619456, encode_seconds=1.0, cosine=(0.9, 0.5, 0.123456789),
                    gold=(5.0, 2.0, 0.5))
    latency = summarise([0.0211755123, 0.0210522, 0.0311671], batch_size=8, model="minilm", device="cpu",
                        length="short", tokens=15.125, warmup=2, threads=2)
    return {"cpu": {"sts:stsb/dev:eedcd2dd2821f58d:bs32": make_entry(sts),
                    "latency:bs8:short": make_entry(latency)}}


def test_written_file_matches_the_golden_file(tmp_path: Path) -> None:
    """Sorted keys, two-space indent, rounded floats, cosines as one base64 line: diffs read well."""
    path = BaselineStore(tmp_path).write("minilm", entries(), replace=False)
    assert path == tmp_path / "minilm.json"
    assert path.read_text(encoding="utf-8") == GOLDEN.read_text(encoding="utf-8")
    assert oct(path.stat().st_mode & 0o777) != oct(0o600)  # a file for git, not a private temp file


def test_save_keeps_existing_entries_update_replaces_them(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path)
    store.write("minilm", entries(), replace=False)
    changed = {"cpu": {"latency:bs8:short": {"samples_ms": [1.0, 2.0]}, "memory:bs8:short": {"params": 1}}}
    store.write("minilm", changed, replace=False)
    data = json.loads((tmp_path / "minilm.json").read_text())
    assert data["entries"]["cpu"]["latency:bs8:short"]["p50_ms"] == 21.1755  # kept
    assert data["entries"]["cpu"]["memory:bs8:short"] == {"params": 1}  # added
    store.write("minilm", changed, replace=True)
    data = json.loads((tmp_path / "minilm.json").read_text())
    assert data["entries"]["cpu"]["latency:bs8:short"] == {"samples_ms": [1.0, 2.0]}
    assert "sts:stsb/dev:eedcd2dd2821f58d:bs32" in data["entries"]["cpu"]


BROKEN = [
    ("", "minilm.json: the file is empty"),
    ('{"schema": 1, "entries": {"cpu": {', r"minilm.json:1:35: not valid JSON \(Expecting property name"),
    ('{"schema": 1,\n "entries": [}', r"minilm.json:2:14: not valid JSON"),
    ('{"entries": {}}', "not a pytest-embedeval baseline"),
    (f'{{"schema": {SCHEMA + 1}, "entries": {{}}}}', f"baseline schema {SCHEMA + 1} is newer than this plugin reads"),
    ('{"schema": 0, "entries": {}}', "baseline schema 0 is older than this plugin reads .1.; delete it and record it again"),
    ('{"schema": 1, "entries": {"cpu": []}}', "'entries' must map variant -> measurement -> entry"),
    ("[1, 2]", "not a pytest-embedeval baseline"),
    ('{"schema": 1, "entries": {"cpu": {"memory:bs8:short": {"peak_rss_mb": NaN}}}}', "NaN is not a number"),
    ("[" * 100_000, "nested too deeply|not valid JSON"),
]


@pytest.mark.parametrize(("text", "message"), BROKEN)
def test_broken_files_are_named_and_never_overwritten(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "minilm.json"
    path.write_text(text, encoding="utf-8")
    store = BaselineStore(tmp_path)
    with pytest.raises(BaselineError, match=message):
        store.load("minilm")
    for replace in (False, True):
        with pytest.raises(BaselineError):
            store.write("minilm", entries(), replace=replace)
    assert path.read_text(encoding="utf-8") == text


def test_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "minilm.json").write_bytes(b'{"schema": 1, "entries": {"\xff": {}}}')
    with pytest.raises(BaselineError, match=r"minilm.json: not UTF-8 \(byte 27\)"):
        BaselineStore(tmp_path).load("minilm")


def test_model_names_become_safe_file_names(tmp_path: Path) -> None:
    assert BaselineStore(tmp_path).path("org/model v2").name == "org_model_v2.json"
