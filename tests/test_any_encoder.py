"""Any encoder, prompts, cost and the pick under a budget: parsers, the adapter, and fast runs through pytester."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from pytest_embedeval.errors import ModelError
from pytest_embedeval.measure.latency import cost_per_mtok
from pytest_embedeval.models.custom import CustomEncoder, is_factory_spec, spec_name
from pytest_embedeval.models.prompts import parse_prompts, prompt_for, prompt_name, sts_prompt
from pytest_embedeval.report.selection import parse_limits, select, selection_lines

# -- module:factory specs and the adapter -----------------------------------------------------------


@pytest.mark.parametrize("spec, ok", [("pkg.mod:make", True), ("mod:Class.build", True), ("random:minilm-l6", False),
                                      ("org/name", False), ("C:\\models\\x", False), ("mod:", False)])
def test_factory_specs(spec: str, ok: bool) -> None:
    assert is_factory_spec(spec) is ok


def test_spec_name_is_short_and_stable() -> None:
    assert spec_name("my_pkg.encoders:make_minilm") == "encoders.make_minilm"


class Bare:
    """Only encode(list[str]): no batch size, no normalisation, no prompt."""

    def __init__(self, output=None) -> None:
        self.output, self.calls = output, []

    def encode(self, texts):
        self.calls.append(list(texts))
        return self.output if self.output is not None else [[len(t), 1.0] for t in texts]


def test_adapter_forwards_only_what_encode_takes_and_prepends_prompts() -> None:
    inner = Bare()
    encoder = CustomEncoder(inner, "m:f")
    vectors = encoder.encode(["ab", "abcd"], batch_size=8, show_progress_bar=False, convert_to_numpy=True,
                             normalize_embeddings=True, prompt="q: ")
    assert inner.calls == [["q: ab", "q: abcd"]]
    assert vectors.dtype == np.float32 and vectors.shape == (2, 2)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)  # normalised for it
    assert encoder.weight_summary() == (None, {}) and encoder.tokenizer is None


def test_adapter_passes_keywords_the_encoder_accepts() -> None:
    seen = {}

    class Keen:
        def encode(self, texts, batch_size=1, normalize_embeddings=False, **extra):
            seen.update(batch_size=batch_size, normalize=normalize_embeddings, **extra)
            return np.ones((len(texts), 3))

    CustomEncoder(Keen(), "m:f").encode(["a"], batch_size=16, prompt="p: ")
    assert seen["batch_size"] == 16 and seen["prompt"] == "p: " and seen["normalize"] is False


@pytest.mark.parametrize("output, problem", [
    ([[1.0, 2.0]], "shape (1, 2) for 2 texts"), (np.ones(2), "shape (2,)"),
    ([[1.0, math.nan], [0.0, 1.0]], "non-finite"), ([["a", "b"], ["c", "d"]], "expected a 2-D float array"),
])
def test_adapter_refuses_bad_output_naming_the_spec(output, problem) -> None:
    with pytest.raises(ModelError, match=rf"model 'm:f'.*{re.escape(problem)}"):
        CustomEncoder(Bare(output), "m:f").encode(["a", "b"])


def test_adapter_needs_an_encode_method() -> None:
    with pytest.raises(ModelError, match="without an encode"):
        CustomEncoder(object(), "m:f")


# -- prompts ------------------------------------------------------------------------------------------


def test_prompt_lookup_follows_mteb_order() -> None:
    prompts = {"STSBenchmark-query": "1", "STSBenchmark": "2", "STS-query": "3", "STS": "4", "query": "5"}
    assert prompt_name(prompts, "STSBenchmark", "STS", "query") == "STSBenchmark-query"
    assert prompt_name(prompts, "STSBenchmark", "STS", None) == "STSBenchmark"
    assert prompt_name({"STS": "x", "query": "y"}, "STSBenchmark", "STS", None) == "STS"
    assert prompt_name({"Retrieval-query": "x", "query": "y"}, "NFCorpus", "Retrieval", "query") == "Retrieval-query"
    assert prompt_name({"query": "y"}, "NFCorpus", "Retrieval", "query") == "query"


def test_e5_and_bge_prompts_give_sts_nothing() -> None:
    e5 = {"query": "query: ", "document": "passage: "}
    assert sts_prompt(e5, "stsb") == (None, None)
    assert prompt_for(e5, "NFCorpus", "Retrieval", "document") == ("document", "passage: ")
    assert sts_prompt({"STS": ""}, "stsb") == (None, None)  # an empty prompt changes nothing
    assert sts_prompt({"STSBenchmark": "s: "}, "stsb") == ("STSBenchmark", "s: ")


def test_parse_prompts_forms() -> None:
    assert parse_prompts('{"query": "query: ", "document": "passage: "}') == {"query": "query: ",
                                                                             "document": "passage: "}
    assert parse_prompts("query=query: ;STS=Same meaning? ") == {"query": "query: ", "STS": "Same meaning? "}
    assert parse_prompts("none") == {}
    for bad, message in (('{"passage": "p"}', "write 'document'"), ("no-equals", "KEY=TEXT"),
                         ('{"query": 1}', "must be text"), ("[1]", "KEY=TEXT"), ("bad key=x", "not a task")):
        with pytest.raises(ValueError, match=message):
            parse_prompts(bad)


# -- cost and the pick under a budget -----------------------------------------------------------------


def test_cost_per_million_tokens() -> None:
    # 2,000 tokens/s at 3.60 USD/h: 500 s (0.1389 h) for a million tokens = 0.50 USD
    assert cost_per_mtok(3.6, 2000.0) == pytest.approx(0.5)
    assert cost_per_mtok(None, 2000.0) is None and cost_per_mtok(3.6, None) is None


def test_parse_limits() -> None:
    limits = parse_limits("p95_ms<=50, peak_mb <= 800,spearman>=85")
    assert [limit.text for limit in limits] == ["p95_ms<=50", "peak_mb<=800", "spearman>=85"]
    with pytest.raises(ValueError, match=r"unknown metric 'p42'.*known: spearman, pearson, ndcg_at_10, .*accuracy, "
                                         r"f1, v_measure, max_ap, .*mean_ap, .*p50_ms"):  # every accuracy kind's scores, then cost
        parse_limits("p42<=3")
    assert [limit.text for limit in parse_limits("accuracy>=78, v_measure>=35")] == ["accuracy>=78", "v_measure>=35"]
    for bad in ("p95_ms<50", "p95_ms<=fast", ""):
        with pytest.raises(ValueError):
            parse_limits(bad)


def rows(variant: str, spearman: float, p95: float, peak: float) -> list[dict]:
    who = {"model": "m", "device": "cpu", "variant": variant}
    return [{"kind": "sts", **who, "spearman": spearman, "dataset": "stsb", "split": "dev"},
            {"kind": "latency", **who, "batch_size": 32, "length": "short", "p50_ms": p95 / 2, "p95_ms": p95},
            {"kind": "memory", **who, "batch_size": 32, "length": "short", "peak_rss_mb": peak, "params": None,
             "weight_mb": {}}]


def test_select_picks_the_most_accurate_within_every_limit() -> None:
    records = rows("", 86.7, 60, 700) + rows("int8", 86.2, 30, 900) + rows("bf16", 86.5, 40, 600)
    selection = select(records, 32, parse_limits("p95_ms<=50,peak_mb<=800"))
    assert selection["pick"] == "m cpu bf16" and selection["data"] == "stsb/dev"
    lines = selection_lines(selection)
    assert lines[0].startswith("embed-select (p95_ms<=50, peak_mb<=800): pick m cpu bf16 (Spearman 86.50")
    assert "  m cpu: misses p95_ms 60 > 50" in lines and "  m cpu int8: misses peak_mb 900 > 800" in lines
    none = select(records, 32, parse_limits("params<=10"))
    assert none["pick"] is None and selection_lines(none)[1] == "  m cpu: misses params not measured"


# -- fast runs through pytester -----------------------------------------------------------------------

TOY = '''
import numpy as np

class Toy:
    """Hash-free toy: each text's vector is its letter counts."""
    def encode(self, texts):
        return np.array([[t.count(c) + 1.0 for c in "aeiou"] for t in texts])

def make():
    return Toy()

def broken():
    raise RuntimeError("no weights here")
'''


def test_factory_import_errors_are_usage_errors(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(toy_enc=TOY)
    result = pytester.runpytest("--embed-models=no_such_module:make")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--embed-models=no_such_module:make: model 'no_such_module:make': cannot import "
                                 "'no_such_module': ModuleNotFoundError*"])
    result = pytester.runpytest("--embed-models=toy_enc:nope")
    result.stderr.fnmatch_lines(["*model 'toy_enc:nope': module 'toy_enc' has no 'nope'*"])


def test_unknown_select_metric_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--embed-select=latency<=5")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--embed-select=latency<=5: unknown metric 'latency' (known: spearman, *)"])


def test_entry_point_encoder_runs_and_says_what_it_cannot_give(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(toy_enc=TOY, test_it='''
def test_encode(embed_model, embed_eval):
    assert embed_model.encode(["a", "b"]).shape == (2, 5)
    result = embed_eval.latency(batch_size=2)
    assert result.tokens is None and result.tokens_per_s is None and result.usd_per_mtok is None
''')
    info = pytester.path / "toy_enc-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-enc\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[pytest_embedeval.encoders]\ntoy = toy_enc:make\nbad = toy_enc:broken\n")
    result = pytester.runpytest_subprocess("--embed-models=toy", "--embed-latency-rounds=2",
                                           "--embed-price-per-hour=1", "-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str()[-2000:]
    result.stdout.fnmatch_lines(["*toy cpu*- (no tokenizer)*1.00*-*"])
    result = pytester.runpytest_subprocess("--embed-models=bad", "-p", "no:cacheprovider", "test_it.py")
    result.stdout.fnmatch_lines(["*ModelError: model 'toy_enc:broken': the factory raised RuntimeError: "
                                 "no weights here*"])


def test_ini_sets_prompts_price_and_select(pytester: pytest.Pytester) -> None:
    pytester.makeini("""
[pytest]
embed_prompts =
    STS=Same meaning? 
    query=query: 
embed_price_per_hour = 2.5
embed_select = p95_ms<=50, peak_mb<=800
""")
    pytester.makepyfile('''
from pytest_embedeval.plugin.settings import read_settings

def test_settings(request):
    settings = read_settings(request.config)
    assert settings.prompts == {"STS": "Same meaning?", "query": "query:"}, settings.prompts
    assert settings.price_per_hour == 2.5
    assert [limit.text for limit in settings.select] == ["p95_ms<=50", "peak_mb<=800"]
''')
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    result = pytester.runpytest("-p", "no:cacheprovider", "--embed-price-per-hour=-1")
    result.stderr.fnmatch_lines(["*--embed-price-per-hour=-1: '-1' must be a positive finite number*"])
