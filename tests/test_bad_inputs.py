"""The bad-input matrix, each case through a real pytest run: a clear error naming what and where,
and an existing baseline never written over."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from .conftest import TINY_PAIRS

GOOD = "sentence1,sentence2,score\n" + "".join(f'"{a}","{b}",{s}\n' for a, b, s in TINY_PAIRS)
STS_TEST = "def test_sts(embed_eval):\n    embed_eval.sts()\n"

DATA_CASES = {
    "missing column": ("p.csv", "sentence1,score\nx,1\n",
                       "p.csv:1: missing column(s) sentence2; the header has sentence1, score"),
    "non-numeric score": ("p.csv", GOOD.replace(",4.2\n", ",high\n"), "p.csv:3: score 'high' is not a number"),
    "NaN score": ("p.csv", GOOD.replace(",4.2\n", ",nan\n"), "p.csv:3: score 'nan' is not a finite number"),
    "score outside the scale": ("p.csv", GOOD.replace(",3.1\n", ",7.5\n"),
                                "p.csv:5: score 7.5 is outside the STS scale 0-5"),
    "empty sentence": ("p.csv", GOOD.replace('"A dog runs in the park."', '" "'), "p.csv:4: sentence1 is empty"),
    "duplicated header": ("p.csv", GOOD + "sentence1,sentence2,score\n", "p.csv:8: the header line is repeated"),
    "UTF-16": ("p.csv", GOOD.encode("utf-16"), "p.csv:1: not valid UTF-8 (byte 0xff); save the file as UTF-8"),
    "latin-1": ("p.csv", GOOD.replace("A man", "Caf\xe9 man").encode("latin-1"),
                "p.csv:2: not valid UTF-8 (byte 0xe9); save the file as UTF-8"),
    "empty file": ("p.csv", "", "p.csv: the file is empty"),
    "empty data set": ("p.csv", "sentence1,sentence2,score\n",
                       "p.csv: 0 pair(s) in split 'dev'; a correlation needs at least 3"),
    "fewer than 3 pairs": ("p.jsonl", '{"sentence1": "a", "sentence2": "b", "score": 1}\n'
                                      '{"sentence1": "c", "sentence2": "d", "score": 2}\n',
                           "p.jsonl: 2 pair(s) in split 'dev'; a correlation needs at least 3"),
    "STS-B line with too few fields": ("sts-dev.csv", "main-captions\tMSRvid\t2012test\t1\t5.0\tonly one\n",
                                       "sts-dev.csv:1: expected at least 7 tab-separated fields*found 6"),
}


@pytest.mark.parametrize("case", DATA_CASES)
def test_bad_data_file(pytester: pytest.Pytester, case: str) -> None:
    name, content, message = DATA_CASES[case]
    path = pytester.path / "data" / name
    path.parent.mkdir()
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    pytester.makepyfile(STS_TEST)
    result = pytester.runpytest("--embed-models=minilm", f"--embed-sts-path={path.parent if name.startswith('sts-') else path}")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"DataError: {path.parent}/{message}"])
    assert "Traceback" not in result.stdout.str() and "site-packages" not in result.stdout.str()


VALID = json.dumps({"schema": 1, "model": "minilm", "entries": {}}, indent=2)
BASELINE_CASES = {
    "corrupt JSON": ('{"schema": 1, "entries": {"cpu": {"sts', ":1:*: not valid JSON*perhaps truncated"),
    "truncated": (VALID[: len(VALID) // 2], ":*: not valid JSON*perhaps truncated"),
    "empty": ("", ": the file is empty"),
    "newer schema": ('{"schema": 99, "entries": {}}', ": baseline schema 99 is newer than this plugin reads (1); "
                                                     "upgrade pytest-embedeval"),
    "older schema": ('{"schema": 0, "entries": {}}', ": baseline schema 0 is older than this plugin reads (1); "
                                                    "delete it and record it again with --embed-baseline-save"),
    "a pickle": (pickle.dumps({"schema": 1, "entries": {}}), ": not UTF-8 (byte *)*"),
}


@pytest.mark.parametrize("case", BASELINE_CASES)
@pytest.mark.parametrize("mode", ["compare", "--embed-baseline-save", "--embed-baseline-update"])
def test_bad_baseline_file_is_named_and_never_written_over(pytester: pytest.Pytester, tiny_csv: Path, case: str,
                                                           mode: str) -> None:
    content, message = BASELINE_CASES[case]
    path = pytester.mkdir("baselines") / "minilm.json"
    raw = content if isinstance(content, bytes) else content.encode("utf-8")
    path.write_bytes(raw)
    pytester.makepyfile(STS_TEST)
    args = [] if mode == "compare" else [mode]
    result = pytester.runpytest("--embed-models=minilm", f"--embed-sts-path={tiny_csv}", *args)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"BaselineError: {path}{message}*"])
    assert path.read_bytes() == raw
    assert [p.name for p in path.parent.iterdir()] == ["minilm.json"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--embed-dtypes=int4"], "*--embed-dtypes=int4: unknown value 'int4' (choose from fp32, fp16, bf16, int8)*"),
        (["--embed-backends=tensorrt"], "*--embed-backends=tensorrt: unknown value 'tensorrt'*"),
        (["--embed-baseline-missing=ignore"], "*--embed-baseline-missing=ignore: 'ignore' is not one of report*"),
        (["--embed-cache=maybe"], "*--embed-cache=maybe: 'maybe' is not a boolean*"),
        (["--embed-max-p95-ms=-5"], "*--embed-max-p95-ms=-5: '-5' must be a positive finite number*"),
        (["--embed-max-peak-mb=inf"], "*--embed-max-peak-mb=inf: 'inf' must be a positive finite number*"),
        (["--embed-min-spearman=150"], "*--embed-min-spearman=150: '150' must be a number in -100..100*"),
        (["--embed-max-drop=-1"], "*--embed-max-drop=-1: '-1' must be a finite number >= 0*"),
        (["--embed-max-slowdown=5000%"], "*--embed-max-slowdown=5000%: '5000%' is outside 0%..1000%*"),
        (["--embed-max-slowdown=15"], "*--embed-max-slowdown=15: '15' is ambiguous: write 15% or 0.15*"),
        (["--embed-confidence=0.3"], "*--embed-confidence=0.3: '0.3' must lie in 50%..99.9%*"),
        (["--embed-latency-rounds=1"], "*--embed-latency-rounds=1: 1 is outside 2..100000*"),
        (["--embed-models=minilm", "--embed-sts-path=/no/such/data"], None),
    ],
)
def test_unknown_or_absurd_option_values(pytester: pytest.Pytester, args: list[str], message: str | None) -> None:
    if message is None:  # a missing data path is found when the data is first needed, and named
        pytester.makepyfile(STS_TEST)
        result = pytester.runpytest(*args)
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(["DataError: STS data path /no/such/data does not exist"])
        return
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ("p95_ms=-1", "p95_ms=-1 must be a positive finite number"),
        ("peak_mb=float('inf')", "peak_mb=inf must be a positive finite number"),
        ("min_spearman=250", "min_spearman=250 must be a number in -100..100 (correlations are x100)"),
        ("p95_ms='fast'", "p95_ms='fast' must be a positive finite number"),
        ("latency=5", "unknown argument(s) latency (known: batch_size, *)"),
    ],
)
def test_negative_or_absurd_budget_marker(pytester: pytest.Pytester, marker: str, message: str) -> None:
    pytester.makepyfile(f"""
        import pytest
        @pytest.mark.embed_budget({marker})
        def test_budget(embed_eval):
            pass
    """)
    result = pytester.runpytest("--embed-models=minilm")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines([f"*::test_budget: @pytest.mark.embed_budget: {message}*"])


def test_unknown_model_id_and_a_folder_that_is_not_a_model(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--embed-models=not-a-model")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--embed-models=not-a-model: unknown model alias 'not-a-model' (known: minilm, "
                                 "mpnet); give hub models as org/name and local folders as paths*"])
    folder = pytester.mkdir("photos")
    (folder / "cat.jpg").write_bytes(b"\xff\xd8")
    result = pytester.runpytest("--embed-models=./photos")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--embed-models=./photos: model './photos': folder {folder} is not a model (no modules.json or config.json); "
                                 "point at a sentence-transformers or transformers model folder"])
