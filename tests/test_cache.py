"""The embedding cache: a rerun with nothing changed skips the encode; any change is a miss."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from pytest_embedeval.core.fingerprint import folder_fingerprint
from pytest_embedeval.measure.cache import EmbeddingCache, cache_key, encoder_identity

STS_TEST = """
def test_sts(embed_eval):
    embed_eval.sts()
"""


def sts_record(pytester: pytest.Pytester, *args: str) -> dict:
    result = pytester.runpytest(*args, "--embed-report=r.json")
    result.assert_outcomes(passed=1)
    (record,) = [r for r in json.loads((pytester.path / "r.json").read_text())["results"] if r["kind"] == "sts"]
    return record


def test_rerun_hits_and_gives_the_same_figures(pytester: pytest.Pytester, tiny_csv: Path) -> None:
    pytester.makepyfile(STS_TEST)
    args = ("--embed-models=minilm", f"--embed-sts-path={tiny_csv}")
    cold = sts_record(pytester, *args)
    warm = sts_record(pytester, *args)
    assert cold["encode_seconds"] > 0 and warm["encode_seconds"] is None
    assert (warm["spearman"], warm["pearson"]) == (cold["spearman"], cold["pearson"])
    result = pytester.runpytest(*args)
    result.stdout.fnmatch_lines(["minilm cpu * pairs/dev * 6 * cache"])
    files = list((pytester.path / ".pytest_cache" / "d" / "embedeval-embeddings").glob("*.npy"))
    assert len(files) == 1


def test_changed_text_misses(pytester: pytest.Pytester, tiny_csv: Path) -> None:
    pytester.makepyfile(STS_TEST)
    args = ("--embed-models=minilm", f"--embed-sts-path={tiny_csv}")
    sts_record(pytester, *args)
    tiny_csv.write_text(tiny_csv.read_text().replace("A dog runs in the park.", "A dog runs in a park."))
    assert sts_record(pytester, *args)["encode_seconds"] is not None


def test_changed_model_misses(pytester: pytest.Pytester, tiny_csv: Path, minilm_path: Path,
                              perturbed_minilm: Callable[[float], Path]) -> None:
    pytester.makepyfile(STS_TEST)
    model = pytester.path / "model"
    shutil.copytree(minilm_path, model)
    args = ("--embed-models=./model", f"--embed-sts-path={tiny_csv}")
    first = sts_record(pytester, *args)
    assert sts_record(pytester, *args)["encode_seconds"] is None
    shutil.copy(perturbed_minilm(0.3) / "model.safetensors", model / "model.safetensors")  # new weights
    changed = sts_record(pytester, *args)
    assert changed["encode_seconds"] is not None and changed["pearson"] != first["pearson"]
    config = model / "sentence_bert_config.json"  # a setting, not a weight: still a different model
    config.write_text(config.read_text().replace('"max_seq_length": 256', '"max_seq_length": 128'))
    assert sts_record(pytester, *args)["encode_seconds"] is not None


def test_cache_clear_and_off(pytester: pytest.Pytester, tiny_csv: Path) -> None:
    pytester.makepyfile(STS_TEST)
    args = ("--embed-models=minilm", f"--embed-sts-path={tiny_csv}")
    sts_record(pytester, *args)
    assert sts_record(pytester, *args, "--cache-clear")["encode_seconds"] is not None
    assert sts_record(pytester, *args, "--embed-cache=off")["encode_seconds"] is not None
    assert sts_record(pytester, *args, "-p", "no:cacheprovider")["encode_seconds"] is not None


def test_unreadable_entries_are_misses(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    identity = encoder_identity("model", "cpu", 32)
    calls: list[list[str]] = []

    def encode(sentences: list[str]) -> np.ndarray:
        calls.append(sentences)
        return np.ones((len(sentences), 4), dtype=np.float32)

    cached = cache.encoder(identity, encode)
    cached(["a", "b"])
    key = cache_key(identity, ["a", "b"])
    (tmp_path / f"{key}.npy").write_bytes(b"\x93NUMPY garbage")
    cached(["a", "b"])
    np.save(tmp_path / f"{key}.npy", np.ones((3, 4), dtype=np.float32))  # wrong row count
    cached(["a", "b"])
    assert len(calls) == 3 and cache.hits == 0
    assert cached(["a", "b"]).shape == (2, 4) and cache.hits == 1
    assert [p.name for p in tmp_path.iterdir()] == [f"{key}.npy"]  # no temp files left


def test_key_covers_device_batch_and_order() -> None:
    base = encoder_identity("fp", "cpu", 32)
    keys = {cache_key(base, ["a", "b"]), cache_key(base, ["b", "a"]),
            cache_key(encoder_identity("fp", "cuda", 32), ["a", "b"]),
            cache_key(encoder_identity("fp", "cpu", 16), ["a", "b"]),
            cache_key(encoder_identity("fp2", "cpu", 32), ["a", "b"])}
    assert len(keys) == 5


def test_fingerprint_follows_every_file(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("1")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b").write_text("2")
    first = folder_fingerprint(tmp_path)
    (tmp_path / "sub" / "b").write_text("3")
    assert folder_fingerprint(tmp_path) != first


WARM_PROBE = """
import json, sys
def pytest_unconfigure(config):
    with open("heavy.json", "w") as handle:
        json.dump(sorted(m for m in ("torch", "sentence_transformers", "scipy") if m in sys.modules), handle)
"""


def test_warm_rerun_loads_no_model(pytester: pytest.Pytester, tiny_csv: Path) -> None:
    """A hit never imports torch or sentence-transformers: that is what makes reruns cheap."""
    pytester.makeconftest(WARM_PROBE)
    pytester.makepyfile(STS_TEST)
    args = ("--embed-models=minilm", f"--embed-sts-path={tiny_csv}")
    pytester.runpytest_subprocess(*args).assert_outcomes(passed=1)
    assert "torch" in json.loads((pytester.path / "heavy.json").read_text())
    pytester.runpytest_subprocess(*args).assert_outcomes(passed=1)
    assert json.loads((pytester.path / "heavy.json").read_text()) == []


def test_a_cache_folder_that_cannot_be_written_warns_once_and_goes_on(tmp_path: Path) -> None:
    """As pytest's own cache: a read-only or broken folder is a warning, not a failed test (here the
    folder's path is a file, which fails the write even for root)."""
    blocked = tmp_path / "blocked"
    blocked.write_text("not a folder")
    messages: list[str] = []
    cached = EmbeddingCache(blocked, messages.append).encoder("id", lambda s: np.ones((len(s), 4), np.float32))
    assert cached(["a"]).shape == (1, 4) and cached(["b"]).shape == (1, 4)
    assert len(messages) == 1 and f"could not write to {blocked}" in messages[0]
    with pytest.warns(RuntimeWarning, match="goes on without storing embeddings"):
        EmbeddingCache(blocked).put("k", np.ones((1, 4)))


def test_an_unwritable_cache_dir_warns_and_the_sts_test_passes(pytester: pytest.Pytester, tiny_csv: Path) -> None:
    pytester.makepyfile(STS_TEST)
    (pytester.path / ".pytest_cache" / "d").mkdir(parents=True)
    (pytester.path / ".pytest_cache" / "d" / "embedeval-embeddings").write_text("a file where the folder goes")
    result = pytester.runpytest("--embed-models=minilm", f"--embed-sts-path={tiny_csv}")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*PytestCacheWarning: embedding cache off: could not create it under *"])
