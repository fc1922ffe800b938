"""Memory of a model: parameters, weight bytes, size on disk, peak RSS, private memory, CUDA peak.

Peak RSS is measured in a fresh child process (``python -m
pytest_embedeval.measure.memory``) that imports the libraries, loads the model and
encodes the workload (at least :data:`MIN_BATCHES` batches, as a server
encodes batch after batch), so the figures are those of a process doing only that work,
comparable with ``/usr/bin/time -v``.  On Linux the kernel's high-water mark
(VmHWM) is exact; writing ``5`` to ``/proc/self/clear_refs`` resets it at the
start of each phase, so the load peak and the encode peak are each caught
exactly instead of guessed from before/after differences.  Elsewhere only the
process peak (``ru_maxrss``) is known.  CUDA peaks use
``torch.cuda.max_memory_allocated`` with the counter reset per phase.

RSS also counts file-backed pages (shared libraries, memory-mapped weight
files) as the kernel happens to map them from its page cache: two installs of
the same packages on one machine differed by 90 MB in RSS (``libtorch_cpu.so``
alone: 48 vs 89 MB resident) with anonymous memory equal to the MB.  So the
model's own cost, the figure the baseline gate compares, is its peak
*private* (anonymous) memory, :class:`PrivatePeak`.
"""

from __future__ import annotations

import gc
import json
import resource
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pytest_embedeval.errors import EmbedEvalError
from pytest_embedeval.measure.workload import WorkloadResult

MB = 1024 * 1024
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".onnx")
# the encode phase's peak varies from one batch to the next (two threads' allocator arenas): over one batch,
# MiniLM's private peak for 32 long inputs ranged 202-276 MB in fresh processes; over three, 265-294
MIN_BATCHES = 3


@dataclass(frozen=True)
class MemoryResult(WorkloadResult):
    """Memory figures of one model on one device for one encode workload (MB = 2**20 bytes)."""

    KIND: ClassVar[str] = "memory"
    IDENTITY: ClassVar[tuple[str, ...]] = ("model", "device", "variant", "batch_size", "length")
    JUNIT: ClassVar[tuple[str, ...]] = ("peak_rss_mb", "params")

    model: str
    device: str
    batch_size: int
    length: str
    params: int | None  # None for an encoder without torch modules (models/custom.py): not counted
    weight_mb: dict[str, float] = field(hash=False)  # by dtype: {"float32": 86.7}
    disk_mb: float | None
    baseline_rss_mb: float  # the child after importing torch and sentence-transformers
    load_peak_mb: float | None  # peak RSS while loading (absolute)
    encode_peak_mb: float | None  # peak RSS while encoding (absolute)
    peak_rss_mb: float  # peak RSS of the whole child process: what a container limit sees
    load_increase_mb: float | None  # load peak above the baseline
    encode_increase_mb: float | None  # encode peak above the RSS after loading
    private_mb: float | None  # peak anonymous memory of load + encode above the baseline's (PrivatePeak)
    cuda_load_peak_mb: float | None
    cuda_encode_peak_mb: float | None
    load_seconds: float
    method: str  # "vmhwm" (exact per phase) or "ru_maxrss" (process peak only)
    variant: str = ""  # "" for fp32 on torch, else "int8", "onnx" ... (variants.py)
    # every probe's private peak and peak RSS (one probe, or several when a baseline is saved)
    private_probes: tuple[float, ...] = field(default=(), hash=False)
    peak_probes: tuple[float, ...] = field(default=(), hash=False)

    def describe(self) -> str:
        return (f"model {self.model} on {self.device}, load + encode of batch {self.batch_size} x {self.length} "
                f"inputs (at least {MIN_BATCHES} batches) in a child process")

    def _check(self, name: str, measured: float | None, budget: float) -> MemoryResult:
        __tracebackhide__ = True
        if measured is None:
            raise AssertionError(f"{name} was not measured ({self.method}) for {self.describe()}")
        if measured > budget:
            raise AssertionError(f"{name} {measured:.1f} MB is above the budget {budget:.1f} MB for {self.describe()}")
        return self

    def assert_peak(self, max_mb: float) -> MemoryResult:
        """The whole process's peak RSS (interpreter, libraries, model, encode)."""
        __tracebackhide__ = True
        return self._check("peak RSS", self.peak_rss_mb, max_mb)

    def assert_increase(self, max_mb: float) -> MemoryResult:
        """The model's own cost: the larger of the load and encode increases."""
        __tracebackhide__ = True
        increases = [v for v in (self.load_increase_mb, self.encode_increase_mb) if v is not None]
        return self._check("RSS increase", max(increases) if increases else None, max_mb)

    def assert_cuda_peak(self, max_mb: float) -> MemoryResult:
        __tracebackhide__ = True
        peaks = [v for v in (self.cuda_load_peak_mb, self.cuda_encode_peak_mb) if v is not None]
        return self._check("CUDA peak", max(peaks) if peaks else None, max_mb)

    def assert_params(self, max_count: int) -> MemoryResult:
        __tracebackhide__ = True
        if self.params is None:
            raise AssertionError(f"parameters were not counted (the encoder exposes no torch modules) for "
                                 f"{self.describe()}")
        if self.params > max_count:
            raise AssertionError(f"{self.params:,} parameters is above the budget {max_count:,} for {self.describe()}")
        return self


def disk_mb(folder: Path | None) -> float | None:
    """Bytes of weights on disk: safetensors when present (what is loaded), else other weight files."""
    if folder is None or not folder.is_dir():
        return None
    files = [p for p in folder.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES
             and "onnx" not in p.relative_to(folder).parts[:-1] and "openvino" not in p.relative_to(folder).parts]
    safetensors = [p for p in files if p.suffix == ".safetensors"]
    chosen = safetensors or files
    return sum(p.stat().st_size for p in chosen) / MB if chosen else None


class PhasePeaks:
    """Peak RSS of this process per phase: exact on Linux, process peak elsewhere."""

    def __init__(self) -> None:
        self.exact = self._reset()
        self.lifetime_kb = 0
        self.method = "vmhwm" if self.exact else "ru_maxrss"

    @staticmethod
    def _reset() -> bool:
        try:
            with open("/proc/self/clear_refs", "w") as handle:
                handle.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
            return True
        except OSError:
            return False

    @staticmethod
    def _status_kb(key: str) -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        raise KeyError(key)

    def current_mb(self) -> float:
        if self.exact:
            return self._status_kb("VmRSS") / 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 if sys.platform != "darwin" else MB)

    def start(self) -> float:
        """Begin a phase; returns the RSS at its start."""
        if self.exact:
            self.lifetime_kb = max(self.lifetime_kb, self._status_kb("VmHWM"))
            self._reset()
        return self.current_mb()

    def peak_mb(self) -> float | None:
        """Peak RSS since :meth:`start` (None where the OS cannot tell)."""
        if not self.exact:
            return None
        peak = self._status_kb("VmHWM")
        self.lifetime_kb = max(self.lifetime_kb, peak)
        return peak / 1024

    def lifetime_mb(self) -> float:
        if self.exact:
            return max(self.lifetime_kb, self._status_kb("VmHWM")) / 1024
        return self.current_mb()  # ru_maxrss is the process peak


def encode_calls(sentences: int, batch_size: int) -> int:
    """How many times to encode ``sentences`` for the peak over at least :data:`MIN_BATCHES` batches."""
    batches = max(1, -(-sentences // batch_size))
    return -(-MIN_BATCHES // batches)


class PrivatePeak:
    """Peak anonymous RSS (``RssAnon``) while a ``with`` block runs, in MB; None where /proc lacks it.

    Linux keeps a high-water mark for the whole RSS only, so a thread samples
    ``/proc/self/status`` every :data:`INTERVAL_S` (torch releases the GIL while
    it computes, so the samples keep coming).  A spike shorter than the interval
    can be missed; an encode's activations live for the whole forward pass.
    """

    INTERVAL_S = 0.0005

    def __init__(self) -> None:
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @staticmethod
    def current_kb() -> int | None:
        try:
            with open("/proc/self/status", encoding="ascii") as status:
                for line in status:
                    if line.startswith("RssAnon:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return None

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, self.current_kb() or 0)
            time.sleep(self.INTERVAL_S)

    def __enter__(self) -> PrivatePeak:
        if self.current_kb() is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.peak_kb = max(self.peak_kb, self.current_kb() or 0)

    @property
    def peak_mb(self) -> float | None:
        return self.peak_kb / 1024 if self.peak_kb else None


def _cuda_phase(device: str) -> Any:
    if not device.startswith("cuda"):
        return lambda: None
    import torch

    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    return lambda: (torch.cuda.synchronize(device), torch.cuda.max_memory_allocated(device) / MB)[1]


def probe(request: dict[str, Any]) -> dict[str, Any]:
    """In the child: import, load, encode; the figures of each phase."""
    return load_and_probe(request)[0]


def load_and_probe(request: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """:func:`probe`'s figures, and the model it loaded (a stack probe goes on to time it: measure/stack.py)."""
    peaks = PhasePeaks()
    import sentence_transformers  # noqa: F401 - part of the baseline, as in any process that serves the model
    import torch

    from pytest_embedeval.models.pool import load_target
    from pytest_embedeval.models.targets import EmbedTarget

    parent_path = request.get("sys_path") or []  # a module:factory encoder imports as it did in the parent
    sys.path[:] = parent_path + [entry for entry in sys.path if entry not in parent_path]
    target = EmbedTarget.from_dict(request["target"])
    device = request["device"]
    baseline = peaks.start()
    private_baseline = PrivatePeak.current_kb()
    cuda_peak = _cuda_phase(device)
    start = time.perf_counter()
    with PrivatePeak() as load_private:
        model = load_target(target, request["trust_remote_code"])
        gc.collect()  # a variant's discarded fp32 model sits in reference cycles until collected
    load_seconds = time.perf_counter() - start
    load_peak, cuda_load = peaks.peak_mb(), cuda_peak()
    after_load = peaks.start()
    cuda_peak = _cuda_phase(device)
    sentences, batch_size = request["sentences"], request["batch_size"]
    with PrivatePeak() as encode_private:
        for _ in range(encode_calls(len(sentences), batch_size)):
            model.encode(sentences, batch_size=batch_size, show_progress_bar=False)
    encode_peak, cuda_encode = peaks.peak_mb(), cuda_peak()
    private_peaks = [p.peak_kb for p in (load_private, encode_private) if p.peak_kb]
    private = (max(private_peaks) - private_baseline) / 1024 if private_peaks and private_baseline else None
    from pytest_embedeval.models.weights import weight_summary

    # an ONNX Runtime encoder keeps no torch modules: it counted its weights when it was built
    params, weights = model.weight_summary() if hasattr(model, "weight_summary") else weight_summary(model)
    return {
        "params": params, "weight_mb": weights, "onnx_mb": getattr(model, "onnx_mb", None),
        "baseline_rss_mb": baseline, "load_peak_mb": load_peak, "encode_peak_mb": encode_peak,
        "load_increase_mb": None if load_peak is None else load_peak - baseline,
        "encode_increase_mb": None if encode_peak is None else encode_peak - after_load, "private_mb": private,
        "peak_rss_mb": peaks.lifetime_mb(), "cuda_load_peak_mb": cuda_load, "cuda_encode_peak_mb": cuda_encode,
        "load_seconds": load_seconds, "method": peaks.method, "torch_threads": torch.get_num_threads(),
    }, model


def measure_memory(target: Any, *, device: str, sentences: list[str], batch_size: int, length: str,
                   trust_remote_code: bool, folder: Path | None, probes: int = 1,
                   timeout_s: float = 1800) -> MemoryResult:
    """Run :func:`probe` in ``probes`` fresh interpreters at once and read their figures back.

    The figures are those of the probe with the median private peak; every probe's private peak
    and peak RSS are kept (``private_probes``, ``peak_probes``): their spread is the noise the
    memory gate's floor comes from.  The probes run side by side: a peak is per process and does
    not depend on the CPU time the others take.  The children get this process's ``sys.path``, so
    a ``module:factory`` encoder imports the same way.
    """
    request = json.dumps({"target": target.to_dict(), "device": device, "sentences": sentences,
                          "batch_size": batch_size, "trust_remote_code": trust_remote_code,
                          "sys_path": list(sys.path)})
    what = f"memory probe for model {target.model.name} on {device}"
    # -P: the current folder (a checkout's source tree, say) must not hide the installed package in the child
    safe_path = ["-P"] if sys.version_info >= (3, 11) else []
    children = [subprocess.Popen([sys.executable, *safe_path, "-m", "pytest_embedeval.measure.memory"], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(probes)]
    try:
        outputs = [child.communicate(request, timeout=timeout_s) + (child.returncode,) for child in children]
    except subprocess.TimeoutExpired:
        raise EmbedEvalError(f"{what} ran over {timeout_s:.0f} s") from None
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    runs = [_figures(stdout, stderr, code, what) for stdout, stderr, code in outputs]
    ranked = sorted(runs, key=lambda run: run["private_mb"] if run["private_mb"] is not None else run["peak_rss_mb"])
    figures = dict(ranked[len(ranked) // 2])
    figures.pop("torch_threads")
    onnx_mb = figures.pop("onnx_mb")  # the graph file is what an ONNX deployment ships
    return MemoryResult(model=target.model.name, device=device, batch_size=batch_size, length=length,
                        disk_mb=onnx_mb if onnx_mb is not None else disk_mb(folder), variant=target.variant,
                        private_probes=tuple(run["private_mb"] for run in runs if run["private_mb"] is not None),
                        peak_probes=tuple(run["peak_rss_mb"] for run in runs), **figures)


def _figures(stdout: str, stderr: str, code: int, what: str) -> dict[str, Any]:
    lines = stdout.strip().splitlines()
    figures = json.loads(lines[-1]) if code in (0, 3) and lines else None
    if figures is None:
        tail = "\n".join(stderr.strip().splitlines()[-5:])
        raise EmbedEvalError(f"{what} failed (exit {code}):\n{tail}")
    if "error" in figures:
        raise EmbedEvalError(figures["error"])
    return figures


def main() -> None:
    try:
        figures = probe(json.loads(sys.stdin.read()))
    except EmbedEvalError as exc:  # a model that cannot load: its message, not a traceback
        sys.stdout.write("\n" + json.dumps({"error": str(exc)}) + "\n")
        sys.exit(3)
    sys.stdout.write("\n" + json.dumps(figures) + "\n")


if __name__ == "__main__":
    main()
