"""Arbitrary bytes and text into the data parsers and the baseline reader.

Each either returns valid data or raises its documented error (DataError,
BaselineError); nothing else may escape.  Example counts suit a CPU CI run.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_embedeval.gate.store import BaselineStore
from pytest_embedeval.measure.data import load_sts
from pytest_embedeval.errors import BaselineError, DataError

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NAMES = ["sts-dev.csv", "dev.csv", "dev.tsv", "dev.jsonl"]
# text that looks like the formats, so the fuzz gets past the first line
fields = st.one_of(st.text(max_size=12), st.sampled_from(["4.5", "nan", "-1", "1e999", "score", "\"", "\t", ","]))
rows = st.lists(fields, min_size=0, max_size=9).map(lambda cells: "\t".join(cells) if len(cells) > 6 else ",".join(cells))
table_text = st.lists(rows, max_size=8).map(lambda lines: "sentence1,sentence2,score\n" + "\n".join(lines))
json_values = st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=10),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                         max_size=4), max_leaves=12)
jsonl_text = st.lists(st.one_of(
    json_values.map(json.dumps),
    st.fixed_dictionaries({"sentence1": json_values, "sentence2": json_values, "score": json_values}).map(json.dumps),
), max_size=6).map("\n".join)


def check_loaded(name: str, content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / name).write_bytes(content)
        try:
            data = load_sts(Path(folder), "dev")
        except DataError:
            return
    assert len(data) >= 3 and len(set(data.scores)) > 1
    for s1, s2, score in zip(data.sentences1, data.sentences2, data.scores):
        assert isinstance(s1, str) and s1.strip() and isinstance(s2, str) and s2.strip()
        assert isinstance(score, float) and math.isfinite(score) and 0 <= score <= 5


@FUZZ
@given(st.sampled_from(NAMES), st.binary(max_size=400))
def test_data_files_from_arbitrary_bytes(name: str, content: bytes) -> None:
    check_loaded(name, content)


@FUZZ
@given(st.sampled_from(NAMES), st.one_of(table_text, jsonl_text, st.text(max_size=300)))
def test_data_files_from_near_valid_text(name: str, text: str) -> None:
    check_loaded(name, text.encode("utf-8", "surrogatepass"))


def check_baseline(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "minilm.json").write_bytes(content)
        store = BaselineStore(Path(folder))
        try:
            data = store.read("minilm")
        except BaselineError:
            assert (Path(folder) / "minilm.json").read_bytes() == content
            return
    assert isinstance(data, dict) and data["schema"] == 1 and isinstance(data["entries"], dict)
    assert all(isinstance(v, dict) and all(isinstance(e, dict) for e in v.values()) for v in data["entries"].values())


@FUZZ
@given(st.binary(max_size=300))
def test_baseline_reader_on_arbitrary_bytes(content: bytes) -> None:
    check_baseline(content)


@FUZZ
@given(st.one_of(json_values, st.fixed_dictionaries({"schema": st.integers(-1, 3) | json_values,
                                                      "entries": json_values})))
def test_baseline_reader_on_arbitrary_json(value: object) -> None:
    check_baseline(json.dumps(value).encode("utf-8"))
