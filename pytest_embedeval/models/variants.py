"""Deployment variants of a model: precision (fp32, fp16, bf16, int8) and backend (torch, onnx).

Teams rarely choose between MiniLM and BERT-large alone; they choose between
fp32, bf16, int8 and ONNX Runtime builds of each.  A variant is a parameter
like the device: ``--embed-dtypes=fp32,int8`` gives ``[minilm-cpu]`` and
``[minilm-cpu-int8]``.  Combinations that cannot run here skip with the
reason instead of silently running something else.

int8 is torch's dynamic quantization of the Linear layers
(``torch.ao.quantization.quantize_dynamic``: int8 weights, activations
quantized on the fly), the standard CPU recipe.
"""

from __future__ import annotations

import warnings
from typing import Any

DTYPES = ("fp32", "fp16", "bf16", "int8")
BACKENDS = ("torch", "onnx")
DEFAULT_DTYPE, DEFAULT_BACKEND = "fp32", "torch"


def variant_name(dtype: str, backend: str) -> str:
    """"" for the default (fp32 on torch), else e.g. "int8", "bf16", "onnx"."""
    return "-".join(part for part, default in ((backend, DEFAULT_BACKEND), (dtype, DEFAULT_DTYPE))
                    if part != default)


def parse_variant(text: str) -> tuple[str, str]:
    """``int8``, ``onnx``, ``onnx-fp32`` ... -> (dtype, backend); ValueError names the bad token."""
    dtype, backend = DEFAULT_DTYPE, DEFAULT_BACKEND
    for token in text.split("-"):
        if token in DTYPES:
            dtype = token
        elif token in BACKENDS:
            backend = token
        else:
            raise ValueError(f"unknown variant {token!r} (dtypes: {', '.join(DTYPES)}; "
                             f"backends: {', '.join(BACKENDS)})")
    return dtype, backend


def _cpu_supports(dtype: Any) -> bool:
    import torch

    try:
        torch.ones(4, 4, dtype=dtype) @ torch.ones(4, 4, dtype=dtype)
    except RuntimeError:
        return False
    return True


def unsupported(device: str, dtype: str, backend: str) -> str | None:
    """Why this (device, dtype, backend) cannot run here, or None."""
    if backend == "onnx":
        if dtype != "fp32":
            return f"the onnx backend runs fp32 models only, not {dtype}"
        if device != "cpu":
            return f"the onnx backend runs on the CPU here, not {device}"
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            return "the onnx backend needs onnxruntime: pip install pytest-embedeval[onnx]"
        return None
    if dtype == "int8" and device != "cpu":
        return f"dynamic int8 quantization runs on the CPU only, not {device}"
    if dtype in ("fp16", "bf16") and device == "cpu":
        import torch

        if not _cpu_supports(torch.float16 if dtype == "fp16" else torch.bfloat16):
            return f"this CPU's torch build cannot multiply {dtype} matrices"
    return None


def quantize_int8(model: Any) -> Any:
    """Dynamic int8 quantization of every Linear layer, torch's own API."""
    import torch

    with warnings.catch_warnings():
        # torch 2.13 marks torch.ao.quantization deprecated in favour of the separate torchao
        # package; the API works and is torch's own, so we keep it and silence only that notice.
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*torch.ao.quantization.*")
        warnings.filterwarnings("ignore", category=UserWarning, message=".*quantized tensor creation.*")
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def apply(model: Any, dtype: str, backend: str, export_dir: Any = None) -> Any:
    """The loaded fp32 SentenceTransformer turned into the asked variant."""
    import torch

    if backend == "onnx":
        from pytest_embedeval.models.onnx import OnnxEncoder, export_onnx

        return OnnxEncoder(model, export_onnx(model, export_dir))
    if dtype == "fp16":
        return model.half()
    if dtype == "bf16":
        return model.to(torch.bfloat16)
    if dtype == "int8":
        return quantize_int8(model)
    return model
