"""Two Python environments side by side: the same measurements in fresh child processes of each.

``--embed-incumbent-env=PYTHON`` judges a stack upgrade (torch, transformers, tokenizers, numpy ...)
by running :func:`child` in pairs of fresh processes, one of this interpreter and one of ``PYTHON``,
started together (nothing is timed while they load).  Each loads the model and encodes a batch under
the memory probe's watch (measure/memory.py).  Then the two take turns: one round of a workload in one
process while the other waits, then the same round in the other (ABBA over rounds); last, the first
pair encodes the STS sentences for the accuracy check, both at once on half the threads each.  The turns are what
make the speed comparison hold on a shared host:
on a 2-core VM one MiniLM process's block medians 1 s apart drifted by 8.6% (log sd), and fresh
processes timed one after another differed by 6-16%, while rounds taken turn about see the same
minute.  The probe's code comes from this checkout on both sides (its folder goes first on the
child's ``sys.path``), so the two sides differ only in their stack, not in how they measure.

Every way an environment can be unusable raises :class:`~pytest_embedeval.errors.EmbedEvalError`
naming it: not an interpreter, no torch or sentence-transformers there, another Python version, a
probe that crashes or runs past ``timeout_s``.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pytest_embedeval.errors import EmbedEvalError
from pytest_embedeval.measure.latency import turn_order

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
        raise _failed(what, python, process.returncode, stderr, stdout)
    return figures


def _failed(what: str, python: str, code: int, stderr: str, stdout: str = "") -> EmbedEvalError:
    """How a child ended (exit status or signal) and the last lines it wrote, naming the environment."""
    tail = "\n".join(stderr.strip().splitlines()[-6:]) or stdout.strip()[-400:]
    how = f"exit {code}" if code >= 0 else f"killed by signal {-code}"
    return EmbedEvalError(f"{what}: failed ({how}); is {python} a Python interpreter with the model's libraries?\n"
                          f"{tail}")


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


class _Probe:
    """One child process, spoken to line by line: a turn is a command line and the seconds it answers.

    Reads go through ``select`` on the raw pipe, so a child that hangs is stopped at its deadline;
    stderr goes to a file, which a crash report quotes (a pipe could fill and block the child)."""

    def __init__(self, python: str, code: Path, request: dict[str, Any], what: str, limit: float,
                 errors: Path) -> None:
        self.python, self.what, self.limit, self.buffer = python, what, limit, b""
        self.deadline = time.monotonic() + limit
        self.errors = open(errors, "w+b")  # noqa: SIM115 - closed in close()
        try:
            self.process = subprocess.Popen([python, "-c", CHILD % str(code)], stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=self.errors)
        except OSError as exc:
            self.errors.close()
            raise EmbedEvalError(f"{what}: {python} is not an interpreter that can be run "
                                 f"({exc.strerror or exc})") from None
        self.send(json.dumps(request))

    def send(self, line: str) -> None:
        try:
            self.process.stdin.write(line.encode() + b"\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            pass  # the child is gone: the answer it cannot give says how it ended

    def answer(self) -> Any:
        """The next protocol line (``PROTOCOL`` first), as JSON; library output on stdout is skipped."""
        import select

        while True:
            while b"\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\n", 1)
                if line.startswith(PROTOCOL):
                    return json.loads(line[len(PROTOCOL):])
            left = self.deadline - time.monotonic()
            ready = select.select([self.process.stdout], [], [], max(left, 0))[0] if left > 0 else []
            if not ready:
                self.close()
                raise EmbedEvalError(f"{self.what}: ran past the time limit of {self.limit:g} s "
                                     "(--embed-incumbent-timeout) and was stopped")
            chunk = os.read(self.process.stdout.fileno(), 65536)
            if not chunk:
                self.fail()
            self.buffer += chunk

    def fail(self) -> None:
        code = self.process.wait()
        self.errors.seek(0)
        stderr = self.errors.read().decode(errors="replace")
        self.close()
        raise _failed(self.what, self.python, code, stderr)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self.errors):
            try:
                stream.close()
            except BrokenPipeError:  # stdin's last write never reached a child that had gone
                pass


def run_probes(pythons: tuple[str, str], names: tuple[str, str], request: dict[str, Any], processes: int,
               timeout_s: float, folder: Path) -> list[list[dict[str, Any]]]:
    """``processes`` pairs of fresh probes, one of each interpreter, timing turn about; the first pair also
    embeds the STS set.  Per side, one dict per process: its memory and its round times per workload."""
    code = folder / "code"  # this package alone: never the site-packages it may be installed in
    code.mkdir(exist_ok=True)
    if not (code / PACKAGE.name).exists():
        (code / PACKAGE.name).symlink_to(PACKAGE, target_is_directory=True)
    found: list[list[dict[str, Any]]] = [[], []]
    workloads = [str(batch) for batch in request.get("workloads", ())]
    for pair in range(processes):
        probes: list[_Probe] = []
        try:
            for side in (0, 1):  # both load at once: nothing is timed until both are ready (about 5 s a pair saved)
                mine = {**request, "sts_sentences": request.get("sts_sentences") if pair == 0 else None,
                        "embeddings": str(folder / f"embeddings-{side}.npy")}
                probes.append(_Probe(pythons[side], code, mine, f"{names[side]}: probe {pair + 1} of {processes}",
                                     timeout_s, folder / f"stderr-{pair}-{side}.txt"))
            figures = [probe.answer() for probe in probes]  # loaded, memory probed, warmed up: waiting for turns
            rounds: list[dict[str, list[float]]] = [{w: [] for w in workloads} for _ in probes]
            for order in turn_order(request.get("rounds", 0), 2, rotate=True):  # AB BA: drift falls on both
                for workload in workloads:
                    for side in order:
                        probes[side].send(workload)
                        rounds[side][workload].append(float(probes[side].answer()))
            if pair == 0 and request.get("sts_sentences"):  # the STS set, both at once on half the cores each
                for probe in probes:
                    probe.send("sts")
                for probe in probes:
                    probe.answer()
            for side, probe in enumerate(probes):
                probe.send("end")
                probe.answer()
                found[side].append({**figures[side], "rounds": rounds[side], "log_seconds": {
                    w: math.log(statistics.median(times)) for w, times in rounds[side].items() if times}})
        finally:
            for probe in probes:
                probe.close()
    return found


PROTOCOL = b"embedeval-probe "  # the prefix of every line the child says to the parent


def child() -> None:
    """In a fresh process: memory of load + encode, then per command line one timed round of a workload
    (the parent alternates the two environments' rounds), or the STS embeddings saved (``sts``)."""
    import numpy as np
    import torch

    from pytest_embedeval.measure.latency import make_inputs
    from pytest_embedeval.measure.memory import load_and_probe

    def say(value: Any) -> None:
        sys.stdout.write(PROTOCOL.decode() + json.dumps(value) + "\n")
        sys.stdout.flush()

    request = json.loads(sys.stdin.readline())
    memory, model = load_and_probe(request)
    runs = {}
    for batch_size in request["workloads"]:
        texts = make_inputs("short", batch_size)
        runs[str(batch_size)] = lambda t=texts, b=batch_size: model.encode(t, batch_size=b, show_progress_bar=False)
    for _ in range(request["warmup"]):
        for run in runs.values():
            run()
    sync = torch.cuda.synchronize if request["device"].startswith("cuda") else (lambda: None)
    say({"memory": memory, "torch_threads": torch.get_num_threads()})
    for line in sys.stdin:
        if line.strip() == "end":
            say("bye")
            return
        if line.strip() == "sts":  # last, untimed, beside the other side's: half the threads, or they oversubscribe
            torch.set_num_threads(max(1, torch.get_num_threads() // 2))
            vectors = model.encode(request["sts_sentences"], batch_size=request["batch_size"],
                                   show_progress_bar=False, convert_to_numpy=True)
            np.save(request["embeddings"], np.asarray(vectors, dtype=np.float32))
            say("saved")
            continue
        sync()
        start = time.perf_counter()
        runs[line.strip()]()
        sync()
        say(time.perf_counter() - start)
