"""What the harness itself costs, measured side by side in one run.

1. Overhead: the STS evaluation of MiniLM on STS-B dev through pytest (data
   loading, dedup, encode, similarity, correlation, recording, and the session
   finish that writes the JSON report; cache off)
   against a bare ``model.encode`` of the same unique sentences at the same
   batch size, in the same process, alternating.
2. Import tax: pytest start-up with the plugin installed but unused, against
   ``-p no:embedeval``, alternating fresh processes.
3. Cache: rerunning the accuracy suite with nothing changed (embeddings from
   the cache) against the cold run, fresh processes.

    python benchmarks/harness.py [--sts-path ../shared/data/stsbenchmark]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, markdown, sts_arguments  # noqa: E402

STS_TEST = """
def test_load(embed_model):
    pass

def test_sts(embed_eval):
    embed_eval.sts()
"""


class CallDuration:
    """A pytest plugin object: test_sts's call phase (load data, dedup, encode, score, record) plus the
    session finish, where the report is written."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.when == "call" and report.nodeid.split("::")[-1].startswith("test_sts"):
            self.seconds += report.duration

    @pytest.hookimpl(wrapper=True)
    def pytest_sessionfinish(self) -> Any:
        start = time.perf_counter()
        try:
            return (yield)
        finally:
            self.seconds += time.perf_counter() - start


def overhead(sts_path: Path, rounds: int = 3) -> tuple[float, float]:
    from sentence_transformers import SentenceTransformer

    from pytest_embedeval.measure.data import load_sts
    from pytest_embedeval.models.aliases import ALIASES

    model = SentenceTransformer(str(ALIASES["minilm"].local_path()), device="cpu")
    data = load_sts(sts_path, "dev")
    unique = list(dict.fromkeys(data.sentences1 + data.sentences2))
    model.encode(unique[:64], batch_size=32, show_progress_bar=False)  # warm-up
    folder = Path(tempfile.mkdtemp(prefix="embedeval-overhead-"))
    (folder / "test_sts.py").write_text(STS_TEST)
    bare, harness = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        model.encode(unique, batch_size=32, show_progress_bar=False, convert_to_numpy=True)
        bare.append(time.perf_counter() - start)
        probe = CallDuration()
        pytest.main([str(folder), "-q", "-p", "no:cacheprovider", "--embed-models=minilm", "--embed-cache=off",
                     f"--embed-sts-path={sts_path}", f"--embed-report={folder / 'r.json'}", "--rootdir", str(folder),
                     "-c", "/dev/null"], plugins=[probe])
        harness.append(probe.seconds)
    return statistics.median(bare), statistics.median(harness)


def wall(args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pytest", *args], cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def import_tax(rounds: int = 15) -> tuple[float, float]:
    folder = Path(tempfile.mkdtemp(prefix="embedeval-startup-"))
    (folder / "test_plain.py").write_text("def test_plain():\n    assert True\n")
    base = ["-q", "-p", "no:cacheprovider", "-c", "/dev/null", "--rootdir", str(folder)]
    without, with_plugin = [], []
    for _ in range(rounds):
        without.append(wall([*base, "-p", "no:embedeval"], folder))
        with_plugin.append(wall(base, folder))
    return statistics.median(without), statistics.median(with_plugin)


def cache(sts_path: Path, rounds: int = 2) -> tuple[float, float]:
    folder = Path(tempfile.mkdtemp(prefix="embedeval-cache-"))
    args = [str(REPO / "suites" / "test_accuracy.py"), "-q", "-o", f"cache_dir={folder / 'cache'}",
            "--embed-models=minilm", f"--embed-sts-path={sts_path}"]
    cold, warm = [], []
    for _ in range(rounds):
        cold.append(wall([*args, "--cache-clear"], REPO))
        warm.append(wall(args, REPO))
    return statistics.median(cold), statistics.median(warm)


def main() -> None:
    args = sts_arguments(__doc__.splitlines()[0]).parse_args()
    sts_path = args.sts_path.resolve()
    bare, harness = overhead(sts_path)
    without, with_plugin = import_tax()
    cold, warm = cache(sts_path)
    rows = [
        ["STS evaluation / bare encode (MiniLM, STS-B dev, batch 32)", f"{harness:.2f} s", f"{bare:.2f} s",
         f"{harness / bare:.3f}", "<= 1.05"],
        ["pytest start-up: plugin installed, unused / -p no:embedeval", f"{with_plugin * 1000:.0f} ms",
         f"{without * 1000:.0f} ms", f"{with_plugin / without:.3f}", "<= 1.03"],
        ["accuracy suite rerun, cached / cold (wall, fresh processes)", f"{warm:.2f} s", f"{cold:.2f} s",
         f"{warm / cold:.3f}", "<= 0.10"],
    ]
    print()
    print(markdown(["ratio", "measured", "reference", "ratio", "bar"], rows))


if __name__ == "__main__":
    main()
