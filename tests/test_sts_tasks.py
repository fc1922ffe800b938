"""MTEB's STS tasks by name: the registry, local lookup, the option, and MTEB's published MiniLM figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_embedeval.errors import DataError
from pytest_embedeval.measure.tasks import STS_TASKS, load_task, parse_task

from .conftest import REPO

MTEB_STS = REPO.parent / "shared" / "data" / "mteb-sts"
TEN = ("STSBenchmark", "STS12", "STS13", "STS14", "STS15", "STS16", "SICK-R", "BIOSSES", "STS17", "STS22")


@pytest.fixture(scope="session")
def mteb_sts_dir() -> Path:
    if not (MTEB_STS / "STS13.csv").is_file():
        pytest.skip(f"{MTEB_STS} holds no STS13.csv")
    return MTEB_STS


def test_the_ten_tasks_carry_mtebs_metadata() -> None:
    assert tuple(STS_TASKS) == TEN
    assert all(task.split == "test" for task in STS_TASKS.values())
    assert all(len(task.revision) == 40 for task in STS_TASKS.values())
    assert STS_TASKS["STS13"].hub_id == "mteb/sts13-sts"
    assert (STS_TASKS["STS22"].params["min_score"], STS_TASKS["STS22"].params["max_score"]) == (1.0, 4.0)
    assert parse_task("STS17").subset == "en-en" and parse_task("STS22").subset == "en"
    assert parse_task("STS17:es-es").label == "STS17:es-es"
    assert parse_task("STS13").label == "STS13"


@pytest.mark.parametrize("name, message", [
    ("STS99", "unknown STS task 'STS99'; MTEB's STS tasks are STSBenchmark, STS12, *, STS22"),
    ("STS17:xx-yy", "STS17 has no subset 'xx-yy'; its subsets are ko-ko, *en-en*"),
    ("STS13:en", "STS13 has no language subsets (write STS13)"),
])
def test_bad_task_names_say_what_exists(name: str, message: str) -> None:
    import fnmatch

    with pytest.raises(ValueError) as excinfo:
        parse_task(name)
    assert fnmatch.fnmatch(str(excinfo.value), message), str(excinfo.value)


def test_local_folder_one_file_per_task(tmp_path: Path) -> None:
    (tmp_path / "STS16.jsonl").write_text("\n".join(json.dumps({"sentence1": f"a {i}", "sentence2": f"b {i}",
                                                                "score": i}) for i in range(5)) + "\n")
    (tmp_path / "STS17.en-en.tsv").write_text("sentence1\tsentence2\tscore\n" +
                                               "".join(f"x {i}\ty {i}\t{i}\n" for i in range(4)))
    data = load_task(tmp_path, "STS16")
    assert (data.name, data.split, data.task, len(data)) == ("STS16", "test", True, 5)
    assert load_task(tmp_path, "STS17").name == "STS17:en-en"
    with pytest.raises(DataError, match=r"no file for STS task STS13 \(looked for STS13.csv, STS13.tsv, STS13.jsonl, STS13/test.csv"):
        load_task(tmp_path, "STS13")
    with pytest.raises(DataError, match="unknown STS task 'Nope'"):
        load_task(tmp_path, "Nope")


def test_bad_row_in_a_task_file_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "STS12.csv").write_text("sentence1,sentence2,score\na,b,1\nc,d,2\ne,,3\n")
    with pytest.raises(DataError, match=r"STS12.csv:4: sentence2 is empty"):
        load_task(tmp_path, "STS12")


def test_hub_task_fails_fast_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline and not cached: the hub loader says so at once (the hub itself is out of reach here)."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(Exception, match=r"dataset 'mteb/sts13-sts' is not in the local Hugging Face cache"):
        load_task(None, "STS13")


def test_unknown_task_option_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(sts_dataset): pass\n")
    result = pytester.runpytest("--embed-models=minilm", "--embed-sts-tasks=STS13,STS99")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--embed-sts-tasks=STS13,STS99: unknown STS task 'STS99'; MTEB's STS tasks are "
                                 "STSBenchmark, STS12, STS13, STS14, STS15, STS16, SICK-R, BIOSSES, STS17, STS22*"])


def test_ini_twin_parametrizes_over_tasks(pytester: pytest.Pytester, tmp_path: Path) -> None:
    for name in ("STS12", "BIOSSES"):
        (tmp_path / f"{name}.csv").write_text("sentence1,sentence2,score\n" +
                                             "".join(f"s {i},t {i},{i}\n" for i in range(4)))
    pytester.makeini(f"[pytest]\nembed_sts_tasks = STS12, BIOSSES\nembed_sts_path = {tmp_path}\n")
    pytester.makepyfile("""
        def test_task(embed_target, sts_dataset):
            assert sts_dataset.split == "test" and sts_dataset.task
    """)
    result = pytester.runpytest("--embed-models=minilm", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["*test_task?minilm-cpu-STS12?", "*test_task?minilm-cpu-BIOSSES?"])


def test_minilm_reproduces_mtebs_published_sts13_and_sts16(pytester: pytest.Pytester, mteb_sts_dir: Path) -> None:
    """MTEB's published all-MiniLM-L6-v2 figures: STS13 80.60, STS16 78.99 (its README); each task its own test,
    report row and baseline entry, labelled with its real split (test), and the mean over tasks."""
    pytester.makepyfile("""
        def test_sts(embed_eval, sts_dataset):
            result = embed_eval.sts()
            assert result.dataset == sts_dataset.name and result.split == "test"
    """)
    result = pytester.runpytest("--embed-models=minilm", "--embed-sts-tasks=STS13,STS16",
                                f"--embed-sts-path={mteb_sts_dir}", "--embed-report=report.json",
                                "--embed-baseline-save", "-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_sts?minilm-cpu-STS13? PASSED*", "*test_sts?minilm-cpu-STS16? PASSED*",
                                 "minilm cpu*STS13/test*1500*80.60*", "minilm cpu*STS16/test*1186*78.99*",
                                 "minilm cpu*2*STS13, STS16*79.79*"])
    report = json.loads((pytester.path / "report.json").read_text())
    scores = {r["dataset"]: r["spearman"] for r in report["results"] if r["kind"] == "sts"}
    assert abs(scores["STS13"] - 80.60) <= 0.01 and abs(scores["STS16"] - 78.99) <= 0.01, scores
    assert report["task_means"][0]["mean_main_score"] == pytest.approx((scores["STS13"] + scores["STS16"]) / 2)
    baseline = next((pytester.path / "baselines").glob("*.json")).read_text()
    assert '"sts:STS13/test:' in baseline and '"sts:STS16/test:' in baseline, baseline[:500]


def test_mteb_encodes_the_columns_apart_and_gets_the_same_score(minilm_path: Path, mteb_sts_dir: Path) -> None:
    """MTEB encodes all sentence1s, then all sentence2s; we encode each unique sentence once: equal to 0.01."""
    from scipy.stats import spearmanr
    from sentence_transformers import SentenceTransformer
    from sklearn.metrics.pairwise import paired_cosine_distances

    from pytest_embedeval.measure.sts import evaluate_sts

    data = load_task(mteb_sts_dir, "STS16")
    model = SentenceTransformer(str(minilm_path), device="cpu")
    e1, e2 = model.encode(list(data.sentences1), batch_size=32), model.encode(list(data.sentences2), batch_size=32)
    mteb = spearmanr([s / 5 for s in data.scores], 1 - paired_cosine_distances(e1, e2))[0] * 100
    ours = evaluate_sts(lambda s: model.encode(s, batch_size=32), data, model="minilm", device="cpu", batch_size=32)
    assert abs(ours.spearman - mteb) < 0.01, (ours.spearman, mteb)
