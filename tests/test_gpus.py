"""One GPU per xdist worker, from CUDA_VISIBLE_DEVICES, set before torch is imported: tested without a GPU."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_embedeval.core.gpus import gpu_for_worker, visible_gpus, wants_gpu
from pytest_embedeval.errors import EmbedEvalError


@pytest.mark.parametrize(("value", "gpus"), [("0,1", ["0", "1"]), (" 2, 3 ", ["2", "3"]), ("", []), ("-1", []),
                                              ("1,-1,2", ["1"]), ("GPU-8f2c,GPU-77ab", ["GPU-8f2c", "GPU-77ab"])])
def test_visible_gpus_read_cuda_visible_devices_as_cuda_does(value: str, gpus: list[str], tmp_path: Path) -> None:
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": value}, proc=tmp_path) == gpus


def test_without_the_variable_every_gpu_the_driver_lists(tmp_path: Path) -> None:
    for bus in ("0000:01:00.0", "0000:41:00.0"):
        (tmp_path / bus).mkdir()
    assert visible_gpus({}, proc=tmp_path) == ["0", "1"]
    assert visible_gpus({}, proc=tmp_path / "no-driver") == []


def test_each_worker_its_own_gpu_and_more_workers_than_gpus_is_an_error() -> None:
    assert [gpu_for_worker(["4", "6"], index, 2, "localhost") for index in range(2)] == ["4", "6"]
    with pytest.raises(EmbedEvalError, match=r"3 xdist workers on ssh=gpu-box but 2 GPU\(s\) there .*4,6.*at most 2"):
        gpu_for_worker(["4", "6"], 0, 3, "ssh=gpu-box")


def test_only_cuda_and_auto_leave_the_gpu_to_us() -> None:
    assert wants_gpu(("cpu", "cuda")) and wants_gpu(("auto",))
    assert not wants_gpu(("cpu",)) and not wants_gpu(("cuda:1",))


SEEN = """
import os

def test_which_gpu(tmp_path_factory):
    worker = os.environ["PYTEST_XDIST_WORKER"]
    with open(os.path.join(os.environ["GPU_LOG"], worker), "w") as handle:
        handle.write(os.environ["CUDA_VISIBLE_DEVICES"])
"""


def test_workers_take_one_gpu_each_before_torch(pytester: pytest.Pytester, tiny_csv: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(SEEN)
    log = pytester.mkdir("seen")
    monkeypatch.setenv("GPU_LOG", str(log))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    result = pytester.runpytest_subprocess("-n", "2", "--dist", "each", "--embed-models=random:minilm-l6",
                                           "--embed-devices=cuda", f"--embed-sts-path={tiny_csv}")
    result.assert_outcomes(passed=2)
    assert {path.name: path.read_text() for path in log.iterdir()} == {"gw0": "3", "gw1": "5"}


def test_more_local_workers_than_gpus_is_a_usage_error(pytester: pytest.Pytester, tiny_csv: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    result = pytester.runpytest_subprocess("-n", "3", "--embed-models=random:minilm-l6", "--embed-devices=cuda",
                                           f"--embed-sts-path={tiny_csv}", "--embed-report=r.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*embedeval: 3 xdist workers on localhost but 2 GPU(s) there "
                                 "(CUDA_VISIBLE_DEVICES: 0,1)*at most 2 worker(s) there*"])
    assert not (pytester.path / "r.json").exists()
    # on the CPU the same run is fine: the GPUs are not wanted
    pytester.runpytest_subprocess("-n", "3", "--embed-models=random:minilm-l6",
                                  f"--embed-sts-path={tiny_csv}").assert_outcomes(passed=1)
