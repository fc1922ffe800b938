"""What a run writes: the JSON report (and the atomic writer behind it), the terminal table, JUnit
properties and the Markdown summary."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pytest_embedeval.core.atomic import write_json_atomic


def test_report_holds_figures_and_versions(pytester: pytest.Pytester, tiny_csv: Path) -> None:
    pytester.makepyfile("""
        def test_sts(embed_eval):
            embed_eval.sts()
    """)
    result = pytester.runpytest("--embed-models=minilm", f"--embed-sts-path={tiny_csv}", "--embed-report=out/r.json")
    result.assert_outcomes(passed=1)
    path = pytester.path / "out" / "r.json"
    result.stdout.fnmatch_lines([f"embedeval report: {path}"])
    text = path.read_text(encoding="utf-8")
    report = json.loads(text)
    assert text == json.dumps(report, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert report["schema"] == "pytest-embedeval/report/1"
    versions = report["environment"]["versions"]
    assert versions["torch"] and versions["sentence-transformers"] and versions["pytest-embedeval"] == "0.1.0"
    (record,) = report["results"]
    assert record["kind"] == "sts" and record["model"] == "minilm" and record["device"] == "cpu"
    assert (record["dataset"], record["split"], record["n_pairs"], record["n_unique"]) == ("pairs", "dev", 6, 12)
    assert 0 < record["spearman"] <= 100 and 0 < record["pearson"] <= 100 and record["encode_seconds"] > 0
    assert "cosine" not in record


def test_report_without_models_is_written_empty(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(): pass")
    pytester.runpytest("--embed-report=r.json").assert_outcomes(passed=1)
    assert json.loads((pytester.path / "r.json").read_text())["results"] == []


def test_ini_report_path_is_relative_to_rootdir(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nembed_report = reports/embed.json\n")
    pytester.mkdir("sub").joinpath("test_x.py").write_text("def test_x(): pass\n")
    result = pytester.runpytest(str(pytester.path / "sub"), "--rootdir", str(pytester.path))
    result.assert_outcomes(passed=1)
    assert (pytester.path / "reports" / "embed.json").is_file()


def test_atomic_write_replaces_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "b.json"
    write_json_atomic(target, {"b": 1, "a": [1.5, "é"]})
    write_json_atomic(target, {"z": 2, "a": 1})
    assert target.read_text(encoding="utf-8") == '{\n  "a": 1,\n  "z": 2\n}\n'
    assert os.listdir(tmp_path) == ["b.json"]


def test_atomic_write_refuses_nan_and_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "b.json"
    write_json_atomic(target, {"ok": 1})
    with pytest.raises(ValueError):
        write_json_atomic(target, {"bad": float("nan")})
    assert json.loads(target.read_text()) == {"ok": 1}
    assert os.listdir(tmp_path) == ["b.json"]


def test_terminal_table_has_one_row_per_target_with_size_memory_speed_and_accuracy() -> None:
    from pytest_embedeval.report.tables import target_table

    who = {"model": "minilm", "device": "cpu", "variant": ""}
    records = [
        {"kind": "sts", **who, "spearman": 86.7163},
        {"kind": "latency", **who, "batch_size": 32, "length": "short", "p50_ms": 44.94, "p95_ms": 48.61,
         "sentences_per_s": 712.9},
        {"kind": "latency", **who, "batch_size": 8, "length": "short", "p50_ms": 15.0, "p95_ms": 16.0,
         "sentences_per_s": 533.3},
        {"kind": "memory", **who, "batch_size": 32, "length": "short", "params": 22_713_216,
         "weight_mb": {"float32": 86.65}, "disk_mb": 86.66, "peak_rss_mb": 597.8, "private_mb": 39.1},
        {"kind": "sts", "model": "mpnet", "device": "cpu", "variant": "", "spearman": 88.109},
    ]
    header, _, minilm, mpnet = target_table(records, batch_size=32).text()
    assert header.split() == ["model", "params", "weights", "MB", "disk", "MB", "peak", "MB", "private", "MB",
                              "batch", "p50", "ms", "p95", "ms", "sent/s", "spearman"]
    assert minilm.split() == ["minilm", "cpu", "22.7M", "86.7", "86.7", "598", "39", "32", "44.9", "48.6", "713",
                              "86.72"]  # the run's batch size is the row's, not batch 8
    assert mpnet.split() == ["mpnet", "cpu", "-", "-", "-", "-", "-", "-", "-", "-", "-", "88.11"]


def test_junit_properties_and_markdown(pytester: pytest.Pytester, tiny_csv: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """CI's two readers: JUnit properties per figure and verdict, and a Markdown summary appended to GitHub's."""
    summary = pytester.path / "step-summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    pytester.makepyfile("def test_sts(embed_eval):\n    embed_eval.sts()\n")
    result = pytester.runpytest("--embed-models=minilm", f"--embed-sts-path={tiny_csv}", "--junitxml=j.xml",
                                "--embed-markdown=out/summary.md")
    result.assert_outcomes(passed=1)
    junit = (pytester.path / "j.xml").read_text()
    assert '<property name="embedeval.minilm.cpu.sts.spearman" value="' in junit
    assert '<property name="embedeval.minilm.cpu.sts:pairs/dev:' in junit and 'value="no baseline"' in junit
    markdown = (pytester.path / "out" / "summary.md").read_text()
    # an STS score without a baseline was measured but not compared: the summary does not call that a pass
    assert markdown.startswith("## pytest-embedeval: not everything was compared")
    assert "- **minilm cpu sts:pairs/dev:" in markdown and ": no baseline: none in " in markdown
    assert "| minilm cpu | pairs/dev | 6 |" in markdown
    assert summary.read_text() == "earlier step\n" + markdown  # appended, not replaced


@pytest.mark.parametrize("kind", ["sts", "retrieval", "reranking", "classification", "clustering",
                                  "pair_classification"])
def test_a_prompt_makes_a_record_of_its_own(kind: str) -> None:
    """Two runs of one task that differ only in the prompt are two measurements, so two report records."""
    from pytest_embedeval.report.records import record_key

    plain = {"kind": kind, "model": "m", "device": "cpu", "variant": None, "dataset": "d", "split": "test",
             "fingerprint": "f", "batch_size": 32, "prompt": None}
    assert record_key(plain) != record_key({**plain, "prompt": "query: "})
