"""The ONNX Runtime backend: export a SentenceTransformer once, encode with ``onnxruntime``.

Why not sentence-transformers' own ``backend="onnx"``: it needs ``optimum-onnx``,
whose newest release (0.1.0) pins ``transformers<4.58`` while sentence-transformers
6.x needs ``transformers>=5``; pip resolves the extra by going back to
sentence-transformers 5.7 and transformers 4.57, so the ONNX numbers would come
from other library versions than the torch numbers they are compared with.
``torch.onnx.export`` (the torch.export-based exporter, torch's default since
2.9) and plain ``onnxruntime`` need no pin on transformers.

The whole module chain (Transformer -> Pooling -> [Dense] -> [Normalize]) goes
into one graph, so pooling, dense layers and normalisation are torch's own
code, traced, not a re-implementation that could drift from it.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

from pytest_embedeval.core.vectors import unit_rows
from pytest_embedeval.errors import ModelError
from pytest_embedeval.models.weights import weight_summary

# bump when the exported graph changes (inputs, outputs, what it contains): caches of the old one then miss
EXPORT_NAME = "sentence-embedding-v1"
OUTPUT = "sentence_embedding"
SUPPORTED = ("Transformer", "Pooling", "Dense", "Normalize")
INSTALL = "pip install pytest-embedeval[onnx]"
_PROBE = ["A man is playing a guitar.", "Two dogs run across a wide green field while a child watches them."]


def _name(st_model: Any) -> str:
    first = st_model[0] if len(st_model) else None
    return str(getattr(getattr(first, "auto_model", None), "name_or_path", "") or type(st_model).__name__)


def _require(module: str, st_model: Any, purpose: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ModelError(f"model {_name(st_model)!r}: the onnx backend needs {module} to {purpose}: "
                         f"{INSTALL} (or drop onnx from --embed-backends)") from None


def check_supported(st_model: Any) -> None:
    """Only chains whose every step is a tensor function of the tokenizer's output export faithfully."""
    kinds = [type(module).__name__ for module in st_model]
    unsupported = [kind for kind in kinds if kind not in SUPPORTED]
    if not kinds or kinds[0] != "Transformer" or unsupported or getattr(st_model, "tokenizer", None) is None:
        raise ModelError(f"model {_name(st_model)!r}: the onnx backend exports Transformer -> Pooling -> "
                         f"[Dense] -> [Normalize] chains with a tokenizer, not {' -> '.join(kinds) or 'nothing'}; "
                         "evaluate it on the torch backend (drop onnx from --embed-backends)")
    prefix = _prefix(st_model)
    if prefix and any(getattr(module, "include_prompt", True) is False for module in st_model):
        raise ModelError(f"model {_name(st_model)!r}: its default prompt is excluded from pooling "
                         "(include_prompt=False), which the onnx export cannot do; use the torch backend")


def _prefix(st_model: Any) -> str:
    """The default prompt sentence-transformers' encode() prepends (E5-style models), else ""."""
    default = getattr(st_model, "default_prompt_name", None)
    return (getattr(st_model, "prompts", None) or {}).get(default, "") if default else ""


def export_onnx(st_model: Any, folder: Path) -> Path:
    """``folder/sentence-embedding-v1/model.onnx``, exported on the first call only.

    The export is written to a temporary folder beside it and renamed into place,
    so processes sharing ``folder`` (xdist workers) never load half a file; when
    two export at once, the first rename wins and the other's copy is dropped.
    """
    check_supported(st_model)
    target = Path(folder) / EXPORT_NAME
    if (target / "model.onnx").is_file():
        return target / "model.onnx"
    for module in ("onnx", "onnxscript"):  # torch.onnx's exporter imports them
        _require(module, st_model, "export the model")
    import torch

    class Chain(torch.nn.Module):
        """The tokenizer's tensors, positionally, to the sentence embedding: what the graph computes."""

        def __init__(self) -> None:
            super().__init__()
            self.st_model = st_model

        def forward(self, *tensors: Any) -> Any:
            return self.st_model(dict(zip(names, tensors)))[OUTPUT]

    example = st_model.tokenizer(_PROBE, padding=True, return_tensors="pt")
    names = list(example.keys())
    weight_bytes = sum(p.numel() * p.element_size() for p in st_model.parameters())
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{EXPORT_NAME}."))
    os.chmod(scratch, 0o755)  # mkdtemp makes 0700; the cache folder is shared, readable like any other
    dynamic = torch.export.Dim.DYNAMIC
    registration = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registration.level
    try:
        with warnings.catch_warnings(), torch.no_grad():
            # torch 2.13's own pytree code calls its deprecated LeafSpec while exporting; not ours to fix.
            warnings.filterwarnings("ignore", category=FutureWarning, message=r".*LeafSpec.*")
            # it also logs one warning per torchvision op it skips when torchvision is absent (we need none)
            registration.setLevel(logging.ERROR)
            torch.onnx.export(
                Chain().eval(), tuple(example[name].to(st_model.device) for name in names),
                str(scratch / "model.onnx"), input_names=names, output_names=[OUTPUT], dynamo=True,
                verbose=False, dynamic_shapes=(tuple({0: dynamic, 1: dynamic} for _ in names),),  # one *args
                external_data=weight_bytes >= 2**30,  # protobuf caps one file at 2 GiB
            )
        try:
            os.replace(scratch, target)
        except OSError:  # another process put its export in place first: use that one
            if not (target / "model.onnx").is_file():
                raise
    except Exception as exc:  # the exporter raises anything from its own errors to KeyError
        cause = exc.__cause__ or exc  # torch.onnx wraps torch.export's error in three paragraphs of advice
        reason = re.sub(r"\x1b\[[0-9;]*m", "", str(cause)).strip().splitlines()[0][:300] if str(cause) else ""
        raise ModelError(f"model {_name(st_model)!r} could not be exported to ONNX into {target}: "
                         f"{type(cause).__name__}: {reason}; evaluate it on the torch backend") from exc
    finally:
        registration.setLevel(level)
        shutil.rmtree(scratch, ignore_errors=True)
    return target / "model.onnx"


class OnnxEncoder:
    """``encode`` like a SentenceTransformer's, run by ONNX Runtime on the CPU.

    It keeps the tokenizer, not the torch model: memory measured for this variant
    is that of an ONNX Runtime deployment (once the caller's torch model is
    collected; transformers models sit in reference cycles, so at the next gc).  At construction it checks the graph
    against the torch model on two sentences of different lengths, so a stale
    cache or a shape the exporter froze fails loudly instead of scoring wrong.
    """

    device = "cpu"

    def __init__(self, st_model: Any, onnx_path: Path, *, threads: int | None = None) -> None:
        import numpy as np
        import torch

        ort = _require("onnxruntime", st_model, "run the model")
        check_supported(st_model)
        self.name = _name(st_model)
        self.tokenizer = st_model.tokenizer
        self.max_seq_length = st_model.max_seq_length
        self.prefix = _prefix(st_model)
        self.onnx_path = Path(onnx_path)
        if not self.onnx_path.is_file():
            raise ModelError(f"model {self.name!r}: no ONNX graph at {self.onnx_path}; make it with export_onnx")
        files = [p for p in self.onnx_path.parent.iterdir() if p.name.startswith(self.onnx_path.name)]
        self.onnx_mb = sum(p.stat().st_size for p in files) / 2**20  # the graph and any external weights
        self.params, self.weight_mb = weight_summary(st_model)
        # torch's thread count unless told: both backends then compute on equal threads, and the
        # count the latency result records (torch's) is this one's too
        self.threads = threads or torch.get_num_threads()
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        # ONNX Runtime's threads spin-wait after each run by default, taking a core from whatever runs
        # next: a torch round timed right after an ORT round took 72.8 ms instead of 50.8 on 2 cores, so
        # an onnx candidate looked 40% better against a torch incumbent.  Without spinning ORT's own
        # latency did not move (55.6 vs 55.7 ms, MiniLM, batch 32).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(self.onnx_path), options, providers=["CPUExecutionProvider"])
        self.input_names = [node.name for node in self.session.get_inputs()]
        expected = st_model.encode(_PROBE, convert_to_numpy=True, show_progress_bar=False)
        got = self.encode(_PROBE)
        if got.shape != expected.shape or not np.allclose(got, expected, rtol=1e-3, atol=1e-4):
            raise ModelError(f"model {self.name!r}: the ONNX graph at {self.onnx_path} disagrees with the torch "
                             f"model; delete {self.onnx_path.parent} to export it again")
        self.dimension = int(expected.shape[1])

    def weight_summary(self) -> tuple[int, dict[str, float]]:
        """Parameters and MB by dtype, as ``variants.weight_summary`` gives them for a torch model."""
        return self.params, dict(self.weight_mb)

    def encode(self, sentences: str | list[str], batch_size: int = 32, show_progress_bar: bool = False,
               convert_to_numpy: bool = True, normalize_embeddings: bool = False, prompt: str | None = None,
               prompt_name: str | None = None, **ignored: Any) -> Any:
        """float32 rows in input order; batches are of similar lengths (longest first), as in
        sentence-transformers, so padding costs little.  Always numpy; progress bars never."""
        import numpy as np

        if prompt is not None or prompt_name is not None:
            raise ValueError(f"model {self.name!r}: the onnx backend encodes without prompts")
        single = isinstance(sentences, str)
        texts = [self.prefix + text for text in ([sentences] if single else sentences)]
        if not texts:
            return np.zeros((0, getattr(self, "dimension", 0)), dtype=np.float32)
        order = np.argsort([-len(text) for text in texts], kind="stable")
        chunks = []
        for start in range(0, len(texts), batch_size):
            batch = [texts[i] for i in order[start:start + batch_size]]
            features = self.tokenizer(batch, padding=True, truncation="longest_first",
                                      max_length=self.max_seq_length, return_tensors="np")
            feed = {name: np.asarray(features[name], dtype=np.int64) for name in self.input_names}
            chunks.append(self.session.run([OUTPUT], feed)[0])
        embeddings = np.concatenate(chunks).astype(np.float32, copy=False)[np.argsort(order)]
        if normalize_embeddings:
            embeddings = unit_rows(embeddings)
        return embeddings[0] if single else embeddings
