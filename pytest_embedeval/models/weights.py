"""Counting a loaded model's parameters and weight bytes, quantized layers included."""

from __future__ import annotations

from typing import Any


def weight_summary(model: Any) -> tuple[int, dict[str, float]]:
    """Parameter count and MB of weights by dtype, quantized Linear layers included.

    ``model.parameters()`` misses the packed int8 weights of quantized layers,
    so those are counted from the modules themselves.
    """
    counted: set[int] = set()
    alive: list[Any] = []  # unpacked int8 weights are fresh tensors: keep them so their ids stay unique
    count, by_dtype = 0, {}

    def add(tensor: Any, parameter: bool = True) -> None:
        nonlocal count
        if tensor is None or id(tensor) in counted:
            return
        counted.add(id(tensor))
        alive.append(tensor)
        count += tensor.numel() if parameter else 0
        name = str(tensor.dtype).replace("torch.", "")
        by_dtype[name] = by_dtype.get(name, 0.0) + tensor.numel() * tensor.element_size() / 2**20

    for module in model.modules():
        if hasattr(module, "_packed_params") and callable(getattr(module, "weight", None)):
            add(module.weight())
            add(module.bias())
    for tensor in model.parameters():
        add(tensor)
    for tensor in model.buffers():  # position ids and the like: bytes, not parameters
        add(tensor, parameter=False)
    return count, by_dtype
