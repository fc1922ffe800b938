"""What installing pytest-embedeval costs every pytest run in the environment, plugin unused.

A team adds the package to a test environment whose tests have nothing to do
with embeddings.  This measures whole-process wall time of ``pytest`` on an
empty test file (exit code 5, no tests), alternating fresh processes, in:

A. installed: a venv with ``pip install torch==2.13.0`` then ``pip install
   pytest-embedeval`` (this checkout, not editable, no extras);
B. each plugin off, one at a time: venv A with ``-p no:NAME`` for one
   ``pytest11`` plugin of A's that the pytest-only venv D lacks (ours,
   ``embedeval``; anyio's, which the ML stack brings; any other), each marked
   with whether venv E has it too;
C. every such plugin off: venv A with ``-p no:NAME`` for all of them; what
   remains against D is a larger site-packages (pytest scans every
   distribution's entry points), not any plugin;
E. the same environment without it: the ML stack the plugin evaluates, torch
   and sentence-transformers (and pytest), at exactly A's versions (A's
   ``pip freeze`` as constraints), but neither pytest-embedeval nor the
   dependencies only it brings (datasets, matplotlib, ...);
D. pytest alone: a venv with only pytest, the same version as in A.

A / B(``-p no:embedeval``) is the bar (<= 1.03): what the plugin itself costs a
run that does not use it, everything else equal.  A / E adds what its
dependencies bring (their own pytest plugins, a larger site-packages); A / D is
the whole tax over bare pytest, the ML stack's own plugins (anyio's) included.  The venvs are
built under ``--workdir`` on the first run and reused after (``--rebuild``
builds them again, e.g. after a dependency change; ``--reinstall`` only puts
this checkout into A again, without its dependencies, after a code change).

    python benchmarks/import_tax.py [--rounds 15] [--package PATH_OR_SPEC] [--workdir DIR] [--rebuild] [--reinstall]
    python benchmarks/import_tax.py --venv VENV [--rounds 15]   # only A against A -p no:embedeval, in VENV,
                                                                # and the plugin's in-process costs there
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


# the same table helper as the other benchmarks, without importing the package (_common does)
def markdown(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


ENTRY_POINTS = """
import importlib.metadata as m, json
print(json.dumps(sorted({(e.name, e.dist.name, e.dist.version) for e in m.entry_points(group="pytest11")})))
"""


def python(venv: Path) -> Path:
    return venv / "bin" / "python"


def pip(venv: Path, *args: str) -> None:
    subprocess.run([str(python(venv)), "-m", "pip", "install", "-q", *args], check=True)


def version(venv: Path, dist: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({dist!r}))"
    return subprocess.run([str(python(venv)), "-I", "-c", code], check=True, capture_output=True, text=True).stdout.strip()


def freeze(venv: Path) -> list[str]:
    out = subprocess.run([str(python(venv)), "-m", "pip", "freeze"], check=True, capture_output=True, text=True)
    return out.stdout.splitlines()


def build(workdir: Path, package: str, rebuild: bool, reinstall: bool) -> tuple[Path, Path, Path]:
    installed, without, alone = workdir / "installed", workdir / "ml-stack", workdir / "pytest-alone"
    if rebuild:
        for venv in (installed, without, alone):
            shutil.rmtree(venv, ignore_errors=True)
    if not python(installed).exists():
        subprocess.run([sys.executable, "-m", "venv", str(installed)], check=True)
        pip(installed, "torch==2.13.0")  # the CPU wheel first, as the README says
        pip(installed, package)
    elif reinstall:
        pip(installed, "--no-deps", "--force-reinstall", package)
    if not python(without).exists():
        # A's versions of everything E shares with it; pip then installs only what torch,
        # sentence-transformers and pytest need, so nothing that only pytest-embedeval brings
        constraints = workdir / "installed-freeze.txt"
        constraints.write_text("\n".join(line for line in freeze(installed)
                                         if "==" in line and not line.lower().startswith("pytest-embedeval")) + "\n")
        subprocess.run([sys.executable, "-m", "venv", str(without)], check=True)
        pip(without, "-c", str(constraints), f"torch=={version(installed, 'torch')}")
        pip(without, "-c", str(constraints), f"sentence-transformers=={version(installed, 'sentence-transformers')}",
            f"pytest=={version(installed, 'pytest')}")
    if not python(alone).exists():
        subprocess.run([sys.executable, "-m", "venv", str(alone)], check=True)
        pip(alone, f"pytest=={version(installed, 'pytest')}")
    return installed, without, alone


def plugins(venv: Path) -> list[tuple[str, str, str]]:
    # -I: not the current folder on sys.path, whose *.egg-info (a checkout's) would count as installed
    out = subprocess.run([str(python(venv)), "-I", "-c", ENTRY_POINTS], check=True, capture_output=True,
                         text=True).stdout
    return [tuple(row) for row in json.loads(out)]


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD",
                        "VIRTUAL_ENV", "PYTHONSTARTUP", "PYTHONDONTWRITEBYTECODE")}
    return env


def wall(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode not in (0, 5):  # 5: no tests collected, which an empty file is
        raise SystemExit(f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="runs of each variant, alternating (default 15)")
    parser.add_argument("--package", default=str(REPO), help="what venv A installs (default: this checkout)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "embedeval-import-tax")
    parser.add_argument("--rebuild", action="store_true", help="build the venvs again")
    parser.add_argument("--reinstall", action="store_true", help="put --package into venv A again (no deps)")
    parser.add_argument("--venv", type=Path, help="an environment that has the package: measure only the bar there")
    args = parser.parse_args()
    if args.venv is not None:
        plugin_off(args.venv, args.rounds)
        return

    args.workdir.mkdir(parents=True, exist_ok=True)
    installed, without, alone = build(args.workdir, args.package, args.rebuild, args.reinstall)
    base = {name for name, _, _ in plugins(alone)}
    in_e = {name for name, _, _ in plugins(without)}
    brought = [(name, dist, ver) for name, dist, ver in plugins(installed) if name not in base]
    folder = Path(tempfile.mkdtemp(prefix="embedeval-tax-"))
    (folder / "test_empty.py").write_text("")
    env = clean_env()
    run_a = [str(installed / "bin" / "pytest"), "-q", "test_empty.py"]
    variants: dict[str, list[str]] = {"A: installed": run_a}
    for name, dist, ver in brought:
        where = "also in E" if name in in_e else "not in E"
        variants[f"B: installed, -p no:{name} ({dist} {ver}; {where})"] = [*run_a, "-p", f"no:{name}"]
    every = [arg for name, _, _ in brought for arg in ("-p", f"no:{name}")]
    variants["C: installed, every plugin above off"] = [*run_a, *every]
    variants["E: ML stack without it"] = [str(without / "bin" / "pytest"), "-q", "test_empty.py"]
    variants["D: pytest alone"] = [str(alone / "bin" / "pytest"), "-q", "test_empty.py"]

    for command in variants.values():  # warm the file cache and the .pyc files
        wall(command, folder, env)
    times: dict[str, list[float]] = {label: [] for label in variants}
    for _ in range(args.rounds):
        for label, command in variants.items():
            times[label].append(wall(command, folder, env))

    medians = {label: statistics.median(values) for label, values in times.items()}
    a, c = medians["A: installed"], medians["C: installed, every plugin above off"]
    e, d = medians["E: ML stack without it"], medians["D: pytest alone"]
    rows = [[label, f"{seconds * 1000:.0f} ms", f"{min(times[label]) * 1000:.0f} ms", f"{a / seconds:.3f}",
             f"{seconds / e:.3f}", f"{seconds / d:.3f}"] for label, seconds in medians.items()]
    versions = ", ".join(f"{dist} {version(installed, dist)}" for dist in ("torch", "sentence-transformers"))
    print(f"pytest {version(alone, 'pytest')}, Python {sys.version.split()[0]}, {versions}; {args.rounds} "
          f"alternating rounds, empty test file; installed: {args.package}")
    print()
    print(markdown(["variant", "median", "min", "A / this", "this / E", "this / D"], rows))
    print()
    off = next(label for label in medians if label.startswith("B: installed, -p no:embedeval "))
    print(f"the bar A / (A -p no:embedeval) = {a / medians[off]:.3f} (<= 1.03); with its dependencies A / E = "
          f"{a / e:.3f}; whole tax A / D = {a / d:.3f}; ML stack E / D = {e / d:.3f}; plugins A / C = {a / c:.3f}")


# In the venv's own interpreter: what the plugin's parts cost in-process, best of 30 (free of the
# scheduling noise a whole-process wall time carries): executing its startup modules (from their .pyc),
# registering its options and parsing a command line four times as pytest does, and pytest's assertion
# rewriting of those modules, which runs on every start where bytecode is not written
# (PYTHONDONTWRITEBYTECODE=1, a read-only site-packages) and is cached otherwise.
BREAKDOWN = """
import argparse, importlib, sys, time, warnings
warnings.simplefilter("ignore")
import pytest
from _pytest.assertion.rewrite import _rewrite_test
from _pytest.config.argparsing import Parser
before = set(sys.modules)
import pytest_embedeval.plugin as entry
from pytest_embedeval.plugin import fixtures, markers, options
modules = [sys.modules[n] for n in sorted(set(sys.modules) - before) if n.startswith("pytest_embedeval")]

def best(run):
    times = []
    for _ in range(30):
        start = time.perf_counter(); run(); times.append(time.perf_counter() - start)
    return min(times) * 1000

def parse(ours):
    parser = Parser()
    if ours:
        options.add_options(parser)
    for _ in range(3):
        parser.parse_known_and_unknown_args(["test_empty.py"], argparse.Namespace())
    parser.parse(["test_empty.py"], argparse.Namespace())

from pathlib import Path
execute = sum(best(lambda m=m: importlib.reload(m)) for m in modules)
register = best(lambda: parse(True)) - best(lambda: parse(False))
rewrite = sum(best(lambda m=m: _rewrite_test(Path(m.__file__), None)) for m in modules)
print(f"{len(modules)} modules ({', '.join(m.__name__.removeprefix('pytest_embedeval.') for m in modules)}): "
      f"executing them {execute:.1f} ms; options registered and parsed {register:.1f} ms; "
      f"assertion rewriting where bytecode is not written {rewrite:.1f} ms")
"""


def plugin_off(venv: Path, rounds: int) -> None:
    """The bar alone, in an existing environment: pytest on an empty file with the plugin and without it."""
    folder = Path(tempfile.mkdtemp(prefix="embedeval-tax-"))
    (folder / "test_empty.py").write_text("")
    env = clean_env()
    run = [str(venv / "bin" / "pytest"), "-q", "-p", "no:cacheprovider", "test_empty.py"]
    variants = {"A: installed": run, "B: -p no:embedeval": [*run, "-p", "no:embedeval"]}
    for command in variants.values():
        wall(command, folder, env)
    times: dict[str, list[float]] = {label: [] for label in variants}
    for _ in range(rounds):
        for label, command in variants.items():
            times[label].append(wall(command, folder, env))
    a, b = (statistics.median(times[label]) for label in variants)
    paired = statistics.median(x - y for x, y in zip(*times.values()))
    print(f"{venv}: pytest {version(venv, 'pytest')}; {rounds} alternating rounds, empty test file")
    print(markdown(["variant", "median", "min"], [[label, f"{statistics.median(v) * 1000:.0f} ms",
                                                  f"{min(v) * 1000:.0f} ms"] for label, v in times.items()]))
    print(f"the bar A / B = {a / b:.3f} (<= 1.03); median of the paired differences A - B: {paired * 1000:.1f} ms")
    print(subprocess.run([str(venv / "bin" / "python"), "-c", BREAKDOWN], cwd=folder, env=env, check=True,
                         capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
