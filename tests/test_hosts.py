"""Workers on other hosts (``--tx socket=``), for real over loopback: two execnet socket servers on
127.0.0.1 stand for two hosts, each with its own working and temporary folder (so its own lock).

One sweep over them gives one report, with the single-process run's figures and verdicts; a host
that cannot be reached or lacks the plugin, a model or the data is a usage error naming it, and
nothing is written.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest


pytest.importorskip("xdist")
execnet = pytest.importorskip("execnet")

SWEEP = """
import json, os
import pytest

def test_latency(embed_eval):
    embed_eval.latency(batch_size=2)

def test_sts(embed_eval):
    embed_eval.sts()

def test_memory(embed_eval):
    embed_eval.memory(batch_size=2)

def test_lock_of_this_host(embed_eval):
    with open(os.path.join(os.environ["EMBEDEVAL_TEST_LOG"], f"lock-{embed_eval.target.model.name}.json"), "w") as f:
        json.dump([os.environ.get("EMBEDEVAL_TEST_HOST", "localhost"), str(embed_eval.resources.lock.path)], f)
"""
MODELS = "--embed-models=minilm,random:minilm-l6"


@pytest.fixture
def socket_host(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Start an execnet socket server (``python -m execnet.script.socketserver``, as a user would on a
    host) with its own folders; returns its --tx spec.  ``flags`` and ``env`` make a host that lacks things."""
    servers: list[subprocess.Popen[bytes]] = []

    def start(name: str, *flags: str, **env: str) -> str:
        home = tmp_path / name
        (home / "tmp").mkdir(parents=True)
        environment = {**os.environ, "TMPDIR": str(home / "tmp"), "EMBEDEVAL_TEST_HOST": name, **env}
        output = home / "server.log"  # a file, not a pipe: a full pipe would stall the server
        with open(output, "wb") as sink:
            server = subprocess.Popen([sys.executable, *flags, "-u", "-m", "execnet.script.socketserver",
                                       "127.0.0.1:0"], cwd=home, env=environment, stdout=sink, stderr=subprocess.STDOUT)
        servers.append(server)
        while server.poll() is None:  # "... Entering Accept loop ('127.0.0.1', PORT)"
            found = re.search(r"Entering Accept loop \('127\.0\.0\.1', (\d+)\)", output.read_text())
            if found:
                return f"socket=127.0.0.1:{found.group(1)}"
            time.sleep(0.05)
        raise AssertionError(f"the socket server of {name} did not start: {output.read_text()}")

    yield start
    for server in servers:
        server.kill()
        server.wait()


def sweep_args(data: Path, *extra: str) -> list[str]:
    return [MODELS, f"--embed-sts-path={data}", "--embed-latency-rounds=3",
            "--embed-max-slowdown=1000%", "--embed-max-memory-growth=200%", "-p", "no:cacheprovider",
            "-p", "no:randomly", *extra]


def test_two_hosts_give_the_single_process_report(pytester: pytest.Pytester, tiny_csv: Path,
                                                  socket_host: Callable[..., str], tmp_path: Path,
                                                  measurement_log: Any) -> None:
    test_file = pytester.makepyfile(test_sweep=SWEEP)

    # baselines of the accuracy figures (the speed and memory ones would cost replicate windows and probes)
    saved = pytester.runpytest_subprocess(*sweep_args(tiny_csv, "--embed-baseline-save", "-k", "sts"))
    saved.assert_outcomes(passed=2, deselected=6)
    baselines = {path.name: path.read_text() for path in (pytester.path / "baselines").iterdir()}

    single = pytester.runpytest_subprocess(*sweep_args(tiny_csv, "--embed-report=one.json"))
    single.assert_outcomes(passed=8)

    hosts = [socket_host("host-a"), socket_host("host-b")]
    spread = pytester.runpytest_subprocess(
        *sweep_args(tiny_csv, "--embed-report=hosts.json", "--dist=load", f"--rsyncdir={pytester.path}",
                    *[f"--tx={host}" for host in hosts]), str(test_file))
    spread.assert_outcomes(passed=8)
    assert {path.name: path.read_text() for path in (pytester.path / "baselines").iterdir()} == baselines

    one, merged = (json.loads((pytester.path / name).read_text()) for name in ("one.json", "hosts.json"))
    sts = {name: sorted((r["model"], r["spearman"], r["pearson"]) for r in report["results"] if r["kind"] == "sts")
           for name, report in (("one", one), ("hosts", merged))}
    assert len(sts["one"]) == 2 and sts["hosts"] == sts["one"]  # exactly: the same floats
    kinds = sorted((r["kind"], r["model"], r.get("batch_size")) for r in merged["results"])
    assert kinds == sorted((r["kind"], r["model"], r.get("batch_size")) for r in one["results"])
    verdicts = {name: sorted((v["model"], v["key"], v["status"]) for v in report["baseline_verdicts"])
                for name, report in (("one", one), ("hosts", merged))}
    # STS compared and passed; latency and memory without a baseline, on both
    assert sorted(status for _, _, status in verdicts["one"]) == ["no baseline"] * 4 + ["pass"] * 2, verdicts["one"]
    assert verdicts["hosts"] == verdicts["one"]
    # one group per model, so each model loaded once in the whole sweep
    assert all(sum(workers.values()) == 1 for workers in merged["model_loads"].values()), merged["model_loads"]

    # the lock is per host: each host's workers lock a file in that host's own temporary folder
    locks = [json.loads(path.read_text()) for path in measurement_log.folder.glob("lock-*.json")]
    assert len(locks) == 2 and all(Path(lock).parent == tmp_path / host / "tmp" for host, lock in locks), locks
    measurement_log.assert_no_timing_overlaps()


def no_outputs(pytester: pytest.Pytester) -> None:
    assert not (pytester.path / "r.json").exists() and not (pytester.path / "baselines").exists()


def run_against(pytester: pytest.Pytester, tiny_csv: Path, *hosts: str, models: str = MODELS,
                extra: tuple[str, ...] = ()) -> pytest.RunResult:
    test_file = pytester.makepyfile(test_sweep="def test_sts(embed_eval):\n    embed_eval.sts()\n")
    return pytester.runpytest_subprocess(models, f"--embed-sts-path={tiny_csv}", "--embed-report=r.json",
                                         "--embed-baseline-save", "--dist=load", f"--rsyncdir={pytester.path}",
                                         *extra, *[f"--tx={host}" for host in hosts], str(test_file))


def test_a_dead_socket_is_named(pytester: pytest.Pytester, tiny_csv: Path) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_against(pytester, tiny_csv, f"socket=127.0.0.1:{port}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*embedeval: worker host socket=127.0.0.1:{port} could not be reached*"])
    no_outputs(pytester)


def test_a_host_without_the_plugin_is_named(pytester: pytest.Pytester, tiny_csv: Path,
                                            socket_host: Callable[..., str], tmp_path: Path) -> None:
    """The host's Python has execnet (to serve) but not pytest-embedeval."""
    bare = tmp_path / "bare-site"
    bare.mkdir()
    (bare / "execnet").symlink_to(Path(execnet.__file__).parent)
    host = socket_host("bare", "-S", PYTHONPATH=str(bare))  # -S: no site-packages, so only execnet
    result = run_against(pytester, tiny_csv, host, models="--embed-models=random:minilm-l6")
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    result.stderr.fnmatch_lines([f"*embedeval: worker host {host} (*): pytest-embedeval is not installed*"])
    no_outputs(pytester)


def test_a_host_without_the_model_or_the_data_is_named(pytester: pytest.Pytester, tiny_csv: Path,
                                                       socket_host: Callable[..., str], minilm_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Each host names its copies in its own environment: here the host's point nowhere."""
    monkeypatch.setenv("EMBEDEVAL_MPNET_PATH", str(minilm_path))  # the controller has "mpnet" (any model folder)
    monkeypatch.setenv("EMBEDEVAL_RETRIEVAL_PATH", str(tiny_csv.parent))
    host = socket_host("empty", EMBEDEVAL_MPNET_PATH="/nonexistent/mpnet",
                       EMBEDEVAL_RETRIEVAL_PATH="/nonexistent/scifact")
    result = run_against(pytester, tiny_csv, host, models="--embed-models=mpnet")
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    result.stderr.fnmatch_lines([f"*embedeval: worker host {host} (*): model 'mpnet': *nonexistent/mpnet*",
                                 f"*embedeval: worker host {host} (*): $EMBEDEVAL_RETRIEVAL_PATH=/nonexistent/scifact "
                                 "does not exist here*"])
    no_outputs(pytester)


def test_more_workers_than_gpus_on_a_host_is_named(pytester: pytest.Pytester, tiny_csv: Path,
                                                   socket_host: Callable[..., str]) -> None:
    """Two workers on a host that shows one GPU (its CUDA_VISIBLE_DEVICES): no GPU needed to check."""
    host = socket_host("one-gpu", CUDA_VISIBLE_DEVICES="0")
    result = run_against(pytester, tiny_csv, host, host, models="--embed-models=random:minilm-l6",
                         extra=("--embed-devices=cuda",))
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    result.stderr.fnmatch_lines([f"*embedeval: worker host {host} (*): 2 xdist workers on {host} but 1 GPU(s)*"])
    no_outputs(pytester)
