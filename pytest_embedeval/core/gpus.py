"""One GPU per xdist worker: which GPUs a host shows, and which one a worker takes.

A worker narrows ``CUDA_VISIBLE_DEVICES`` to its own GPU before torch is imported (CUDA reads
the variable once, when it initialises), so every worker's model sits on its own device and
``cuda`` means that device.  Pure functions of the environment: tested without a GPU.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from pytest_embedeval.errors import EmbedEvalError

NVIDIA_PROC = Path("/proc/driver/nvidia/gpus")  # one folder per GPU the driver sees (Linux)


def visible_gpus(environ: Mapping[str, str] | None = None, proc: Path = NVIDIA_PROC) -> list[str]:
    """The GPUs this process may use: ``CUDA_VISIBLE_DEVICES`` when set, else every GPU the driver lists."""
    environ = os.environ if environ is None else environ
    if "CUDA_VISIBLE_DEVICES" in environ:
        found = []
        for gpu in (part.strip() for part in environ["CUDA_VISIBLE_DEVICES"].split(",")):
            if not gpu or gpu.startswith("-"):  # CUDA stops at the first invalid entry ("-1": none)
                break
            found.append(gpu)
        return found
    try:
        return [str(index) for index in range(len(list(proc.iterdir())))]
    except OSError:  # no NVIDIA driver
        return []


def gpu_for_worker(gpus: list[str], index: int, workers: int, host: str) -> str:
    """The GPU of the ``index``-th of ``workers`` workers on ``host``; more workers than GPUs is an error."""
    if workers > len(gpus):
        shown = ",".join(gpus) if gpus else "none"
        raise EmbedEvalError(
            f"{workers} xdist workers on {host} but {len(gpus)} GPU(s) there (CUDA_VISIBLE_DEVICES: {shown}): "
            f"each worker measures on its own GPU; run at most {len(gpus)} worker(s) there, or measure on cpu")
    return gpus[index]


def wants_gpu(devices: tuple[str, ...]) -> bool:
    """Whether the run's devices leave the GPU to us: ``cuda`` or ``auto`` (``cuda:N`` is the user's pick)."""
    return any(device in ("cuda", "auto") for device in devices)
