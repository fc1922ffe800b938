"""pytest-xdist: workers measure, the controller writes; workers may sit on other hosts.

- Every worker sends its results and the baselines it would write in one typed message
  (``config.workeroutput``, read in ``pytest_testnodedown``); only the controller writes files.
- All tests of one target go to one worker (an ``xdist_group`` per target, ``--dist loadgroup``),
  so a model loads once per run, not once per worker.
- The measurement lock is per host: local workers share the controller's lock file, the workers
  of another host one in that host's temporary folder.  Workers on different hosts time at once.
- Under ``--embed-devices=cuda`` each worker narrows ``CUDA_VISIBLE_DEVICES`` to its own GPU
  before torch is imported.
- A host reached through ``--tx socket=``/``ssh=`` is asked what it has before its worker
  starts (:mod:`hostprobe`); what it lacks, or a host that cannot be reached, is a usage
  error naming it, before any test runs, so no report or baseline is written.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, TypedDict

import pytest

from pytest_embedeval.core.gpus import gpu_for_worker, visible_gpus, wants_gpu
from pytest_embedeval.core.lock import MeasurementLock
from pytest_embedeval.errors import EmbedEvalError
from pytest_embedeval.plugin.settings import Settings
from pytest_embedeval.report.records import ResultsMessage

OUTPUT_KEY = "embedeval"  # in workeroutput: the WorkerMessage
INPUT_KEY = "embedeval"  # in workerinput: the WorkerSetup
_LOCK_FILE = pytest.StashKey[Path]()
LOST = pytest.StashKey[list[str]]()  # workers that went down with an error: "gw1 on socket=...: ..."
PROBE_TIMEOUT_S = 120  # a host's first import of the plugin, on a cold disk


class WorkerMessage(TypedDict):
    """What one worker hands the controller: its run results and the baseline entries to write."""

    results: ResultsMessage
    pending: dict[str, dict[str, dict[str, Any]]]  # model -> variant -> entry key -> entry


class WorkerSetup(TypedDict):
    """What the controller tells a worker (``workerinput``)."""

    host: str  # "localhost", "socket=HOST:PORT", "ssh=HOST"
    lock: str | None  # the controller's lock file, for local workers; None: the host's own
    host_index: int  # this worker's place among the workers of its host
    host_workers: int
    grouped: bool  # --dist loadgroup: the worker marks each test's xdist_group
    gpu: bool  # take one GPU of the host
    baselines: dict[str, str] | None  # another host's copy of the controller's baseline files (name -> text)


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def worker_id(config: pytest.Config) -> str:
    return getattr(config, "workerinput", {}).get("workerid", "main")


def distributed(config: pytest.Config) -> bool:
    """The controller of an xdist run (``-n``, ``--tx`` with ``--dist``)."""
    return not is_worker(config) and config.getoption("dist", "no") != "no"


def host_of(spec: Any) -> str:
    """The host an execnet spec names; local (popen) workers are ``localhost``."""
    if spec.socket:
        return f"socket={spec.socket}"
    if spec.ssh:
        return f"ssh={spec.ssh}"
    return "localhost"


def _setup(config: pytest.Config) -> WorkerSetup | None:
    return getattr(config, "workerinput", {}).get(INPUT_KEY)


def prepare(config: pytest.Config, settings: Settings) -> Settings:
    """Before the run is built: the controller picks loadgroup and checks its GPUs; a worker takes its
    share of the cores, its GPU and, on another host, the controller's baselines.  Returns the settings
    the run is built with."""
    if distributed(config):
        if config.getoption("dist") == "load":  # xdist's default for -n: one model's tests would spread out
            config.option.dist = "loadgroup"
        if wants_gpu(settings.devices):
            from xdist.workermanage import parse_tx_spec_config

            local = sum(1 for spec in parse_tx_spec_config(config) if "popen" in spec)
            gpus = visible_gpus()
            if gpus and local:
                _usage(lambda: gpu_for_worker(gpus, 0, local, "localhost"))
    setup = _setup(config)
    if setup is None:
        return settings
    config.option.loadgroup = setup["grouped"]  # xdist's worker read it from its own arguments: "load"
    _split_threads(setup)
    if setup["gpu"]:
        _claim_gpu(setup)
    if setup["baselines"] is None:
        return settings
    # gates compare with the controller's baselines, as they were when the run started, on every host
    folder = Path(tempfile.mkdtemp(prefix="embedeval-baselines-"))
    config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
    for name, text in setup["baselines"].items():
        (folder / name).write_text(text, encoding="utf-8")
    return settings._replace(baseline_dir=folder)


def _baseline_files(settings: Settings, rootpath: Path) -> dict[str, str]:
    folder = settings.baseline_dir or rootpath / "baselines"
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.json"))}


def _split_threads(setup: WorkerSetup) -> None:
    """The host's cores shared out among its workers (torch reads OMP_NUM_THREADS when imported): two
    workers of two threads each on two cores spin at OpenMP barriers and slow each other far more
    than the split costs.  A value the user set is kept."""
    if "OMP_NUM_THREADS" not in os.environ:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        threads = max(1, cores // setup["host_workers"])
        os.environ["OMP_NUM_THREADS"] = str(threads)
        torch = sys.modules.get("torch")
        if torch is not None:  # a conftest imported it first: it has read the variable already
            torch.set_num_threads(threads)


def _claim_gpu(setup: WorkerSetup) -> None:
    gpus = visible_gpus()
    if not gpus:  # no GPU here: the cuda tests skip, as without xdist
        return
    gpu = _usage(lambda: gpu_for_worker(gpus, setup["host_index"], setup["host_workers"], setup["host"]))
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        raise pytest.UsageError(f"embedeval: CUDA was initialised before the worker on {setup['host']} could take "
                                "its GPU; use CUDA in tests and fixtures, not when conftest.py is imported")
    os.environ["CUDA_VISIBLE_DEVICES"] = gpu


def _usage(check: Any) -> Any:
    try:
        return check()
    except EmbedEvalError as exc:
        raise pytest.UsageError(f"embedeval: {exc}") from None


def group_marks(config: pytest.Config, targets: list[Any]) -> list[Any]:
    """The targets as parameters, each in its own ``xdist_group`` on a grouped worker, so that all tests
    of one target go to one worker and its model loads once (xdist reads the marks at collection)."""
    setup = _setup(config)
    if setup is None or not setup["grouped"]:
        return list(targets)
    return [pytest.param(target, marks=pytest.mark.xdist_group(target.id)) for target in targets]


def worker_lock(config: pytest.Config) -> MeasurementLock:
    """The lock of this worker's host; no lock without xdist."""
    setup = _setup(config)
    if setup is None:
        return MeasurementLock(None)
    if setup["lock"]:
        return MeasurementLock(Path(setup["lock"]))
    # another host: one file per run in its own temporary folder, shared by the run's workers there
    return MeasurementLock(Path(tempfile.gettempdir()) / f"embedeval-{config.workerinput['testrunuid']}.lock")


def lock_file(config: pytest.Config) -> Path:
    """The controller's lock file, in a folder removed when the run ends."""
    if _LOCK_FILE not in config.stash:
        folder = Path(tempfile.mkdtemp(prefix="embedeval-lock-"))
        config.stash[_LOCK_FILE] = folder / "measurements.lock"
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
    return config.stash[_LOCK_FILE]


def send(config: pytest.Config, message: WorkerMessage) -> None:
    config.workeroutput[OUTPUT_KEY] = message  # type: ignore[attr-defined]


def received(node: Any) -> WorkerMessage | None:
    return getattr(node, "workeroutput", {}).get(OUTPUT_KEY)


class XdistPlugin:
    """The hooks of a distributed run: on the controller (nodes, hosts, merging) and on each worker (groups)."""

    def __init__(self, config: pytest.Config, run: Any) -> None:
        self.config = config
        self.run = run  # EmbedRun
        config.stash[LOST] = []
        self._placed: dict[str, int] = {}  # host -> workers set up there so far

    # -- controller ---------------------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_sessionstart(self, session: pytest.Session) -> Any:
        """xdist makes its gateways here: a host that cannot be reached is named, not a traceback."""
        try:
            return (yield)
        except (OSError, EOFError) as exc:
            raise pytest.UsageError(f"embedeval: worker host {self._unreached()} could not be reached "
                                    f"({type(exc).__name__}: {exc}); start its execnet server or fix --tx") from None
        except Exception as exc:
            if type(exc).__module__.startswith("execnet"):  # HostNotFound (ssh), a gateway that broke off
                raise pytest.UsageError(f"embedeval: worker host {self._unreached()} could not be reached "
                                        f"({type(exc).__name__}: {exc})") from None
            raise

    def _unreached(self) -> str:
        """The first --tx host without a gateway yet: gateways are made in --tx order."""
        from xdist.workermanage import parse_tx_spec_config
        import execnet

        hosts = [host_of(execnet.XSpec(spec)) for spec in parse_tx_spec_config(self.config)]
        for host, count in self._placed.items():
            for _ in range(count):
                hosts.remove(host)
        return hosts[0] if hosts else "(unknown)"

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_newgateway(self, gateway: Any) -> None:
        """Ask another host, before its worker starts, whether it has the plugin, the models, the data, GPUs."""
        host = host_of(gateway.spec)
        self._placed[host] = self._placed.get(host, 0) + 1
        if gateway.spec.popen:
            return
        from pytest_embedeval.plugin import hostprobe

        channel = gateway.remote_exec(hostprobe)
        channel.send(self._probe_request())
        try:
            answer = channel.receive(PROBE_TIMEOUT_S)
        except Exception as exc:  # the remote raised, or said nothing in time
            raise pytest.UsageError(f"embedeval: worker host {host} did not answer the plugin's check: "
                                    f"{type(exc).__name__}: {exc}") from None
        channel.waitclose(PROBE_TIMEOUT_S)
        problems = list(answer["problems"])
        workers = self._workers_on(host)
        if wants_gpu(self.run.settings.devices) and answer["gpus"]:
            try:
                gpu_for_worker(answer["gpus"], 0, workers, host)
            except EmbedEvalError as exc:
                problems.append(str(exc))
        if problems:
            raise pytest.UsageError("\n".join(f"embedeval: worker host {host} ({answer['python']}): {problem}"
                                              for problem in problems))

    def _probe_request(self) -> dict[str, Any]:
        from importlib.metadata import version

        settings = self.run.settings
        sources = [source.split("@")[0] for source in settings.models or ()]
        sources += [s.split("@")[0] for s in (settings.candidate, settings.incumbent) if s]
        local = [t.model.source.split("@")[0] for t in self.run.targets if t.model.path is not None]
        paths = []  # what the host's worker will read: the same absolute path, or its own environment variable
        for name in ("sts_path", "retrieval_path"):
            where, value = settings.sources.get(name, ""), getattr(settings, name, None)
            if where.startswith("$"):
                paths.append({"label": where, "env": where[1:]})
            elif value is not None and not str(value).startswith("hub:") and Path(where.split("=", 1)[-1]).is_absolute():
                paths.append({"label": where, "path": str(value)})
        return {"version": version("pytest-embedeval"), "models": sources, "local_models": local, "paths": paths}

    def _workers_on(self, host: str) -> int:
        from xdist.workermanage import parse_tx_spec_config
        import execnet

        return sum(1 for spec in parse_tx_spec_config(self.config) if host_of(execnet.XSpec(spec)) == host)

    @pytest.hookimpl(tryfirst=True, optionalhook=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        """--dist loadgroup, grouping each test by the target in its id: xdist 3.8 names a test's group by
        appending it to the node id, which pytest 9 no longer lets a plugin change."""
        if config.getoption("dist") != "loadgroup":
            return None
        from xdist.scheduler import LoadGroupScheduling

        ids = sorted((target.id for target in self.run.targets), key=len, reverse=True)

        class TargetScheduling(LoadGroupScheduling):
            def _split_scope(self, nodeid: str) -> str:
                scope = super()._split_scope(nodeid)
                if scope != nodeid or not nodeid.endswith("]"):  # xdist's own "@group", or no parameters
                    return scope
                params = f"-{nodeid[nodeid.rfind('[') + 1:-1]}-"  # "test_x[minilm-cpu-3]" -> "-minilm-cpu-3-"
                return next((f"embed:{i}" for i in ids if f"-{i}-" in params), nodeid)

        return TargetScheduling(config, log)

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """Tell each worker its host, its place there, the lock to share and whether to take a GPU."""
        spec = node.gateway.spec
        host = host_of(spec)
        ids = [other.id for other in node.nodemanager.specs if host_of(other) == host]  # gw0, gw1 ... in --tx order
        index = ids.index(node.gateway.id)
        node.workerinput[INPUT_KEY] = WorkerSetup(
            host=host, lock=str(lock_file(node.config)) if spec.popen else None, host_index=index,
            host_workers=len(ids), grouped=self.config.getoption("dist") == "loadgroup",
            gpu=wants_gpu(self.run.settings.devices),
            baselines=None if spec.popen else _baseline_files(self.run.settings, self.config.rootpath))

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """Take in what a worker measured, compared and wants written; remember a worker that was lost."""
        message = received(node)
        if message:
            self.run.recording.results.merge(message["results"])
            self.run.recording.gatekeeper.merge_pending(message["pending"])
        if error:
            self.config.stash[LOST].append(f"{node.gateway.id} on {host_of(node.gateway.spec)}: {str(error).strip()[-300:]}")
