"""Memory: exact per-phase peaks, the child-process probe, and an independent check."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_embedeval.measure.memory import MemoryResult, PhasePeaks, PrivatePeak, disk_mb, encode_calls

pytestmark = pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="exact peaks need Linux")


def test_phase_peak_catches_a_transient_allocation() -> None:
    peaks = PhasePeaks()
    assert peaks.method == "vmhwm"
    start = peaks.start()
    block = bytearray(200 * 1024 * 1024)  # touched: zero-filled pages become resident
    del block
    peak = peaks.peak_mb()
    assert peak is not None and peak - start >= 190  # gone before we looked, still caught
    assert peaks.current_mb() < peak - 150  # a before/after difference would have missed it
    peaks.start()
    assert peaks.peak_mb() < start + 50  # the next phase starts from the current RSS
    assert peaks.lifetime_mb() >= peak


def test_private_peak_catches_a_transient_allocation_and_ignores_file_pages(tmp_path: Path) -> None:
    import mmap

    before = PrivatePeak.current_kb()
    assert before is not None
    with PrivatePeak() as private:
        block = bytearray(200 * 1024 * 1024)  # anonymous, touched
        time.sleep(0.05)  # the sampler runs every 0.5 ms
        del block
    assert private.peak_mb is not None and private.peak_mb - before / 1024 >= 190
    assert PrivatePeak.current_kb() < before + 50 * 1024  # freed: a before/after difference would miss it
    data = tmp_path / "weights.bin"
    data.write_bytes(b"x" * 100 * 1024 * 1024)
    with data.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped, \
            PrivatePeak() as mapped_only:
        assert sum(mapped[i] for i in range(0, len(mapped), 4096)) > 0  # every page resident, file-backed
    assert mapped_only.peak_mb - before / 1024 < 30  # RSS grew by 100 MB, private memory did not


def test_the_encode_phase_covers_at_least_three_batches() -> None:
    assert [encode_calls(n, 32) for n in (1, 32, 33, 64, 65, 96, 1000)] == [3, 3, 2, 2, 1, 1, 1]


def test_disk_size_counts_loaded_weights_once(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"x" * 2 * 1024 * 1024)
    (tmp_path / "pytorch_model.bin").write_bytes(b"x" * 4 * 1024 * 1024)  # the same weights, not loaded
    (tmp_path / "onnx").mkdir()
    (tmp_path / "onnx" / "model.onnx").write_bytes(b"x" * 8 * 1024 * 1024)
    assert disk_mb(tmp_path) == pytest.approx(2.0)
    assert disk_mb(None) is None


def test_memory_budget_messages() -> None:
    result = MemoryResult(model="minilm", device="cpu", batch_size=32, length="short", params=22_713_216,
                          weight_mb={"float32": 86.6}, disk_mb=86.7, baseline_rss_mb=495.0, load_peak_mb=525.0,
                          encode_peak_mb=594.0, peak_rss_mb=594.0, load_increase_mb=30.0, encode_increase_mb=69.0,
                          private_mb=38.0, cuda_load_peak_mb=None, cuda_encode_peak_mb=None, load_seconds=0.1,
                          method="vmhwm")
    result.assert_peak(max_mb=600).assert_increase(max_mb=70).assert_params(max_count=23_000_000)
    with pytest.raises(AssertionError, match=r"peak RSS 594.0 MB is above the budget 500.0 MB for model minilm on "
                                             r"cpu, load \+ encode of batch 32 x short inputs \(at least 3 batches\)"):
        result.assert_peak(max_mb=500)
    with pytest.raises(AssertionError, match="CUDA peak was not measured"):
        result.assert_cuda_peak(max_mb=1)


def independent_peak_mb(minilm_path: Path, batch: int) -> float:
    """Peak RSS of a plain child doing the same load + encode, as the kernel accounts it (wait4).

    A small intermediate interpreter starts the child: a child forked straight
    from this large test process would inherit its resident size in ru_maxrss
    until exec, the same reason /usr/bin/time -v is run from a shell.
    """
    work = (
        "from sentence_transformers import SentenceTransformer\n"
        "from pytest_embedeval.measure.latency import make_inputs\n"
        f"m = SentenceTransformer({str(minilm_path)!r}, device='cpu')\n"
        f"for _ in range({encode_calls(batch, batch)}):\n"
        f"    m.encode(make_inputs('short', {batch}), batch_size={batch}, show_progress_bar=False)\n"
    )
    launcher = (
        "import resource, subprocess, sys\n"
        "subprocess.run([sys.executable, '-c', sys.argv[1]], check=True, stderr=subprocess.DEVNULL)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    done = subprocess.run([sys.executable, "-c", launcher, work], capture_output=True, text=True, check=True)
    return int(done.stdout.split()[-1]) / 1024


def test_probe_figures_agree_with_an_independent_measurement(pytester: pytest.Pytester, minilm_path: Path) -> None:
    pytester.makepyfile("""
        def test_memory(embed_eval):
            embed_eval.memory(batch_size=32)
    """)
    pytester.runpytest("--embed-models=minilm", "--embed-report=r.json").assert_outcomes(passed=1)
    (record,) = [r for r in json.loads((pytester.path / "r.json").read_text())["results"] if r["kind"] == "memory"]
    assert record["params"] == 22_713_216
    assert record["weight_mb"]["float32"] == pytest.approx(86.6, abs=0.1)
    assert record["disk_mb"] == pytest.approx(86.7, abs=0.1)
    assert record["baseline_rss_mb"] < record["load_peak_mb"] <= record["peak_rss_mb"]
    assert record["encode_peak_mb"] <= record["peak_rss_mb"] and record["encode_increase_mb"] > 0
    assert record["method"] == "vmhwm" and record["cuda_load_peak_mb"] is None
    # private: what the model allocates (the weights stay in their memory-mapped file), well below the RSS growth
    assert 5 < record["private_mb"] < record["peak_rss_mb"] - record["baseline_rss_mb"]
    reference = independent_peak_mb(minilm_path, 32)
    assert abs(record["peak_rss_mb"] - reference) / reference < 0.10, (record["peak_rss_mb"], reference)


def test_probe_failure_is_a_short_error(pytester: pytest.Pytester) -> None:
    folder = pytester.mkdir("broken")
    (folder / "config.json").write_text("{not json")
    pytester.makepyfile("def test_memory(embed_eval):\n    embed_eval.memory()\n")
    result = pytester.runpytest("--embed-models=./broken")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["EmbedEvalError: model './broken' (*broken) could not be loaded: *"])
