"""The ONNX Runtime backend against the torch model it was exported from, on real STS-B sentences.

The export (about 6 s for MiniLM) happens once per module; everything else
reuses it.  Only the missing-package tests run without onnxruntime.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_embedeval.errors import ModelError
from pytest_embedeval.models.onnx import EXPORT_NAME, OnnxEncoder, export_onnx

MINILM_SPEARMAN = 86.72  # MiniLM fp32 on torch, STS-B dev (README, tests/test_sts.py)


def st_modules() -> Any:
    try:  # sentence-transformers >= 6
        import sentence_transformers.sentence_transformer.modules as modules
    except ImportError:  # 3.x to 5.x
        import sentence_transformers.models as modules
    return modules


@pytest.fixture(scope="module")
def minilm(minilm_path: Path) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(minilm_path), device="cpu")


@pytest.fixture(scope="module")
def onnx_folder(tmp_path_factory: pytest.TempPathFactory, minilm: Any) -> Path:
    pytest.importorskip("onnxruntime")
    folder = tmp_path_factory.mktemp("onnx")
    export_onnx(minilm, folder)
    return folder


@pytest.fixture(scope="module")
def encoder(minilm: Any, onnx_folder: Path) -> OnnxEncoder:
    return OnnxEncoder(minilm, onnx_folder / EXPORT_NAME / "model.onnx")


@pytest.fixture(scope="module")
def dev(stsb_dir: Path) -> Any:
    from pytest_embedeval.measure.data import load_sts

    return load_sts(stsb_dir, "dev")


@pytest.fixture(scope="module")
def unique(dev: Any) -> list[str]:
    return list(dict.fromkeys(dev.sentences1 + dev.sentences2))


@pytest.fixture(scope="module")
def dev_embeddings(minilm: Any, encoder: OnnxEncoder, unique: list[str]) -> tuple[Any, Any]:
    """All 2,910 unique dev sentences, by torch and by ONNX Runtime, batch 32 as the plugin runs."""
    return minilm.encode(unique, batch_size=32, show_progress_bar=False), encoder.encode(unique, batch_size=32)


def test_embeddings_agree_with_torch(dev_embeddings: tuple[Any, Any]) -> None:
    torch_rows, onnx_rows = dev_embeddings
    assert onnx_rows.shape == torch_rows.shape == (2910, 384) and onnx_rows.dtype == np.float32
    assert np.abs(onnx_rows - torch_rows).max() < 1e-5  # measured: 4e-7
    cosine = (onnx_rows * torch_rows).sum(axis=1) / (
        np.linalg.norm(onnx_rows, axis=1) * np.linalg.norm(torch_rows, axis=1))
    assert cosine.min() >= 0.9999


def test_sts_dev_spearman_matches_torch(dev: Any, unique: list[str], dev_embeddings: tuple[Any, Any]) -> None:
    from pytest_embedeval.measure.sts import evaluate_sts

    rows = {name: dict(zip(unique, embeddings)) for name, embeddings in zip(("torch", "onnx"), dev_embeddings)}
    scores = {name: evaluate_sts(lambda sentences, name=name: np.stack([rows[name][s] for s in sentences]), dev,
                                 model="minilm", device="cpu", batch_size=32).spearman for name in rows}
    assert scores["torch"] == pytest.approx(MINILM_SPEARMAN, abs=0.005)
    assert scores["onnx"] == pytest.approx(scores["torch"], abs=0.05)


def test_order_is_restored(minilm: Any, encoder: OnnxEncoder, unique: list[str]) -> None:
    # lengths from 2 words to the longest dev sentence, in an order the length sort must undo
    texts = sorted(unique[:60], key=len)[::3] + sorted(unique[:60], key=len)[1::3][::-1] + ["Yes.", "A"]
    together = encoder.encode(texts, batch_size=8)
    alone = np.stack([encoder.encode([text], batch_size=1)[0] for text in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    np.testing.assert_allclose(together, minilm.encode(texts, show_progress_bar=False), atol=1e-5)
    np.testing.assert_allclose(encoder.encode(texts[::-1], batch_size=8), together[::-1], atol=1e-6)


def test_batch_size_does_not_change_embeddings(encoder: OnnxEncoder, unique: list[str]) -> None:
    texts = unique[:150]
    reference = encoder.encode(texts, batch_size=32)
    for batch_size in (1, 7, 150, 1000):
        np.testing.assert_allclose(encoder.encode(texts, batch_size=batch_size), reference, atol=1e-5)


def test_encode_shapes_like_sentence_transformers(encoder: OnnxEncoder) -> None:
    assert encoder.encode("A man is playing a guitar.").shape == (384,)
    assert encoder.encode([]).shape == (0, 384)
    unit = encoder.encode(["x"], normalize_embeddings=True, show_progress_bar=True, convert_to_tensor=False)
    assert np.linalg.norm(unit) == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ValueError, match="without prompts"):
        encoder.encode(["x"], prompt_name="query")


def test_long_inputs_are_truncated_at_max_seq_length(minilm: Any, encoder: OnnxEncoder,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    text = "word " * 600  # 600 tokens: past MiniLM's 256 and its 512 positions
    assert encoder.max_seq_length == minilm.max_seq_length == 256
    np.testing.assert_allclose(encoder.encode([text]), minilm.encode([text], show_progress_bar=False), atol=1e-5)
    # the encoder's own limit counts, not only the tokenizer's: [CLS] + 14 words + [SEP]
    monkeypatch.setattr(encoder, "max_seq_length", 16)
    np.testing.assert_allclose(encoder.encode([text]), minilm.encode(["word " * 14], show_progress_bar=False),
                               atol=1e-5)


def test_attributes_the_plugin_reads(minilm: Any, encoder: OnnxEncoder) -> None:
    from pytest_embedeval.measure.latency import mean_tokens
    from pytest_embedeval.models.weights import weight_summary

    import torch

    assert encoder.device == "cpu" and encoder.tokenizer is minilm.tokenizer
    assert encoder.threads == torch.get_num_threads()  # the count latency results record
    assert mean_tokens(encoder, ["A man is playing a guitar."]) == mean_tokens(minilm, ["A man is playing a guitar."])
    assert encoder.weight_summary() == weight_summary(minilm)
    assert encoder.params == 22_713_216
    assert 80 < encoder.onnx_mb < 95  # fp32 weights (86.6 MB) and the graph
    # its threads must not spin after a run and slow the torch round timed next to it
    assert encoder.session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_latency_measures_the_onnx_encoder(encoder: OnnxEncoder) -> None:
    from pytest_embedeval.measure.latency import Timing, measure_latency

    result = measure_latency(encoder, model_name="minilm", device="cpu", batch_size=4, length="short",
                             timing=Timing(rounds=3, warmup=1))
    assert result.rounds == 3 and result.p50_ms > 0


def test_variants_apply_builds_it(minilm: Any, onnx_folder: Path) -> None:
    from pytest_embedeval.models.variants import apply

    assert isinstance(apply(minilm, "fp32", "onnx", onnx_folder), OnnxEncoder)


def test_export_is_cached(minilm: Any, onnx_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    path = onnx_folder / EXPORT_NAME / "model.onnx"
    before = path.stat().st_mtime_ns

    def fail(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr(torch.onnx, "export", fail)
    assert export_onnx(minilm, onnx_folder) == path
    assert path.stat().st_mtime_ns == before
    assert [p.name for p in onnx_folder.iterdir()] == [EXPORT_NAME]  # no scratch folder left behind


def test_cls_pooling_and_dense_chain(minilm: Any, tmp_path: Path, unique: list[str]) -> None:
    import torch
    from sentence_transformers import SentenceTransformer

    pytest.importorskip("onnxruntime")
    modules = st_modules()
    torch.manual_seed(0)
    chain = SentenceTransformer(modules=[minilm[0], modules.Pooling(384, "cls"), modules.Dense(384, 64),
                                         modules.Normalize()], device="cpu")
    encoder = OnnxEncoder(chain, export_onnx(chain, tmp_path))
    texts = unique[:100]
    got, expected = encoder.encode(texts, batch_size=16), chain.encode(texts, batch_size=16, show_progress_bar=False)
    assert got.shape == (100, 64)
    assert (got * expected).sum(axis=1).min() >= 0.9999
    # a graph exported from another chain is refused, not silently used
    with pytest.raises(ModelError, match="disagrees with the torch model"):
        OnnxEncoder(minilm, tmp_path / EXPORT_NAME / "model.onnx")


def test_default_prompt_is_prepended(minilm_path: Path, encoder: OnnxEncoder) -> None:
    from sentence_transformers import SentenceTransformer

    prompted = SentenceTransformer(str(minilm_path), device="cpu", prompts={"query": "query: "},
                                   default_prompt_name="query")
    with_prompt = OnnxEncoder(prompted, encoder.onnx_path)  # same graph: the prompt is text, not weights
    texts = ["A man is playing a guitar.", "A woman slices an onion."]
    np.testing.assert_allclose(with_prompt.encode(texts), prompted.encode(texts, show_progress_bar=False), atol=1e-5)
    assert not np.allclose(with_prompt.encode(texts), encoder.encode(texts), atol=1e-3)


def test_unsupported_chain_is_refused(minilm: Any, tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    modules = st_modules()
    chain = SentenceTransformer(modules=[minilm[0], modules.LSTM(384, 16), modules.Pooling(32)], device="cpu")
    with pytest.raises(ModelError, match=r"Transformer -> LSTM -> Pooling; evaluate it on the torch backend"):
        export_onnx(chain, tmp_path)
    assert not any(tmp_path.iterdir())


def test_missing_onnxruntime_says_what_to_install(minilm: Any, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` now raises ImportError
    with pytest.raises(ModelError, match=r"needs onnxruntime to run the model: pip install pytest-embedeval\[onnx\]"):
        OnnxEncoder(minilm, tmp_path / "model.onnx")


@pytest.mark.parametrize("module", ["onnx", "onnxscript"])
def test_missing_exporter_packages_say_what_to_install(minilm: Any, tmp_path: Path, module: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ModelError, match=rf"needs {module} to export the model: pip install pytest-embedeval"):
        export_onnx(minilm, tmp_path)
