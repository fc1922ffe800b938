"""Two Python environments side by side: the same measurements in fresh child processes of each.

``--embed-incumbent-env=PYTHON`` judges a stack upgrade (torch, transformers, tokenizers, numpy ...)
by running one probe, :func:`child`, in fresh processes of this interpreter and of ``PYTHON``,
interleaved (ABBA: this, that, that, this ...) so that drift and other tenants hit both.  Each probe
loads the model and encodes a batch under the memory probe's watch (measure/memory.py), then times
every latency workload in alternating rounds; the first of each side also encodes the STS sentences
for the accuracy check.  The probe's code comes from this checkout on both sides (its folder goes first
on the child's ``sys.path``), so the two sides differ only in their stack, not in how they measure.

Every way an environment can be unusable raises :class:`~pytest_embedeval.errors.EmbedEvalError`
naming it: not an interpreter, no torch or sentence-transformers there, another Python version, a
probe that crashes or runs past ``timeout_s``.
"""

from __future__ import annotations

import json
import platform
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from pytest_embedeval.errors import EmbedEvalError

PACKAGE = Path(__file__).resolve().parents[1]  # this pytest_embedeval, linked alone into the probes' sys.path
NEEDED = ("torch", "sentence_transformers", "numpy")
# what an interpreter says about itself: its version, executable, every installed distribution, what it lacks
INSPECT = ("import importlib.metadata as m, importlib.util as u, json, platform, sys\n"
           "packages = {(d.metadata['Name'] or '?').lower(): d.version for d in m.distributions()}\n"
           "print(json.dumps({'python': platform.python_version(), 'executable': sys.executable, "
           "'packages': packages, 'missing': [n for n in %r if u.find_spec(n) is None]}))" % (NEEDED,))
CHILD = "import sys; sys.path.insert(0, %r); from pytest_embedeval.measure.stack import child; child()"


def _run(python: str, code: str, stdin: str, timeout_s: float, what: str) -> dict[str, Any]:
    """Run ``code`` under ``python``; its last stdout line as JSON, or an error naming ``what`` went wrong."""
    try:
        process = subprocess.Popen([python, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
    except OSError as exc:
        raise EmbedEvalError(f"{what}: {python} is not an interpreter that can be run ({exc.strerror or exc})") from None
    try:
        stdout, stderr = process.communicate(stdin, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise EmbedEvalError(f"{what}: ran past the time limit of {timeout_s:g} s (--embed-incumbent-timeout) "
                             "and was stopped") from None
    lines = stdout.strip().splitlines()
    try:
        figures = json.loads(lines[-1]) if process.returncode == 0 and lines else None
    except ValueError:
        figures = None
    if not isinstance(figures, dict):
        tail = "\n".join(stderr.strip().splitlines()[-6:]) or stdout.strip()[-400:]
        how = f"exit {process.returncode}" if process.returncode >= 0 else f"killed by signal {-process.returncode}"
        raise EmbedEvalError(f"{what}: failed ({how}); is {python} a Python interpreter with the model's "
                             f"libraries?\n{tail}")
    return figures


def inspect(python: str, what: str, timeout_s: float) -> dict[str, Any]:
    """Version, executable and packages of ``python``; an error when it cannot run a probe."""
    found = _run(python, INSPECT, "", timeout_s, what)
    here = platform.python_version()
    if str(found.get("python")).rsplit(".", 1)[0] != here.rsplit(".", 1)[0]:
        raise EmbedEvalError(f"{what}: {python} runs Python {found.get('python')}, this run Python {here}: compare "
                             "stacks on one Python version (the probe's code is shared between the two)")
    if found["missing"]:
        raise EmbedEvalError(f"{what}: {python} has no {', '.join(found['missing'])}; install them there "
                             "(pip install torch sentence-transformers) or name another interpreter")
    return found


def interleaved(processes: int) -> list[int]:
    """The order of the probes, side 0 (this interpreter) and side 1: ABBA, so a linear drift cancels."""
    return [(i + 1) // 2 % 2 for i in range(2 * processes)]


def run_probes(pythons: tuple[str, str], names: tuple[str, str], request: dict[str, Any], processes: int,
               timeout_s: float, folder: Path) -> list[list[dict[str, Any]]]:
    """``processes`` fresh probes of each interpreter, interleaved; each side's first also embeds the STS set."""
    code = folder / "code"  # this package alone: never the site-packages it may be installed in
    code.mkdir(exist_ok=True)
    if not (code / PACKAGE.name).exists():
        (code / PACKAGE.name).symlink_to(PACKAGE, target_is_directory=True)
    found: list[list[dict[str, Any]]] = [[], []]
    for side in interleaved(processes):
        mine = dict(request)
        if found[side]:
            mine["sts_sentences"] = None
        mine["embeddings"] = str(folder / f"embeddings-{side}.npy")
        what = f"{names[side]}: probe {len(found[side]) + 1} of {processes}"
        found[side].append(_run(pythons[side], CHILD % str(code), json.dumps(mine), timeout_s, what))
    return found


def child() -> None:
    """In a fresh process: memory of load + encode, latency of each workload, the STS embeddings if asked."""
    import math

    import numpy as np
    import torch

    from pytest_embedeval.measure.latency import Timing, make_inputs, time_alternating
    from pytest_embedeval.measure.memory import load_and_probe

    request = json.loads(sys.stdin.read())
    memory, model = load_and_probe(request)
    runs = []
    for batch_size in request["workloads"]:
        texts = make_inputs("short", batch_size)
        runs.append(lambda t=texts, b=batch_size: model.encode(t, batch_size=b, show_progress_bar=False))
    sync = torch.cuda.synchronize if request["device"].startswith("cuda") else None
    samples = time_alternating(runs, Timing(rounds=request["rounds"], warmup=request["warmup"]), sync)
    latency = {str(b): math.log(statistics.median(s)) for b, s in zip(request["workloads"], samples)}
    if request.get("sts_sentences"):
        vectors = model.encode(request["sts_sentences"], batch_size=request["batch_size"], show_progress_bar=False,
                               convert_to_numpy=True)
        np.save(request["embeddings"], np.asarray(vectors, dtype=np.float32))
    print(json.dumps({"memory": memory, "log_seconds": latency, "torch_threads": torch.get_num_threads()}))
