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

Both modes then count the full garbage collections of one run of A and of B, and with ``--instructions``
(valgrind on PATH) the instructions each executes: a repeatable figure where wall times on a shared VM
are not.

    python benchmarks/import_tax.py [--rounds 15] [--package PATH_OR_SPEC] [--workdir DIR] [--rebuild] [--reinstall]
                                    [--instructions]
    python benchmarks/import_tax.py --venv VENV [--rounds 15] [--instructions]   # only A against
                                                                # A -p no:embedeval, in VENV
"""

from __future__ import annotations

import argparse
import json
import os
import re
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
    parser.add_argument("--instructions", action="store_true",
                        help="also count A's and B's instructions with valgrind's callgrind (about a minute each)")
    args = parser.parse_args()
    if args.venv is not None:
        plugin_off(args.venv, args.rounds, args.instructions)
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
    explain(installed, ["-q", "test_empty.py"], folder, env, args.instructions)


# pytest on the empty file in the venv's interpreter: the full (generation 2) garbage collections and the
# seconds they took; with collection disabled instead (argv[1] == "kept"), the objects the run allocated
# and kept by the session's end (gc.get_count()). CPython starts an automatic full collection after a
# fixed number of young ones, so every object a plugin keeps brings a run closer to one more whole pass.
GC_PROBE = """
import gc, sys, time
import pytest
full, started = [], []
def timed(phase, info):
    if info["generation"] == 2:
        started.append(time.perf_counter()) if phase == "start" else full.append(time.perf_counter() - started.pop())
class Kept:
    def pytest_sessionfinish(self):
        sys.stderr.write(f"KEPT {gc.get_count()[0]}\\n")
if sys.argv[1] == "kept":
    gc.disable()
    code = pytest.main(sys.argv[2:], plugins=[Kept()])
else:
    gc.callbacks.append(timed)
    code = pytest.main(sys.argv[2:])
    sys.stderr.write(f"FULL {len(full)} {sum(full) * 1000:.1f}\\n")
raise SystemExit(code)
"""


def gc_probe(venv: Path, mode: str, args: list[str], cwd: Path, env: dict[str, str]) -> list[str]:
    result = subprocess.run([str(python(venv)), "-c", GC_PROBE, mode, *args], cwd=cwd, env=env,
                            capture_output=True, text=True)
    tag = "KEPT " if mode == "kept" else "FULL "
    return result.stderr.rsplit(tag, 1)[1].split()[:2]


def instructions(venv: Path, args: list[str], cwd: Path, env: dict[str, str]) -> int:
    """Instructions the whole pytest process executes, counted by callgrind: repeatable to about 0.1%
    (PYTHONHASHSEED fixed), whatever else the machine does, where wall times on a shared VM are not."""
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", str(python(venv)),
               str(venv / "bin" / "pytest"), *args]
    result = subprocess.run(command, cwd=cwd, env={**env, "PYTHONHASHSEED": "0"}, capture_output=True, text=True)
    counts = [int(n) for n in re.findall(r"Collected : (\d+)", result.stderr)]
    if result.returncode not in (0, 5) or not counts:
        raise SystemExit(f"{' '.join(command)} exited {result.returncode}:\n{result.stderr[-2000:]}")
    return max(counts)  # a forked child reports its own (smaller) count too


def explain(venv: Path, args: list[str], folder: Path, env: dict[str, str], count: bool) -> None:
    """Why A and B differ: their garbage collections and, with --instructions, their instruction counts."""
    off = [*args, "-p", "no:embedeval"]
    (full_a, ms_a), (full_b, ms_b) = (gc_probe(venv, "full", run, folder, env) for run in (args, off))
    kept_a, kept_b = (int(gc_probe(venv, "kept", run, folder, env)[0]) for run in (args, off))
    print(f"full garbage collections in one run: A {full_a} ({ms_a} ms), B {full_b} ({ms_b} ms); objects "
          f"kept by the session's end: A {kept_a:,}, B {kept_b:,} (the plugin: {kept_a - kept_b:,})")
    if count:
        if shutil.which("valgrind") is None:
            raise SystemExit("--instructions needs valgrind on PATH")
        a, b = instructions(venv, args, folder, env), instructions(venv, off, folder, env)
        print(f"instructions (callgrind): A {a / 1e6:,.1f} M, B {b / 1e6:,.1f} M, A / B = {a / b:.4f}, "
              f"A - B = {(a - b) / 1e6:.1f} M")


def plugin_off(venv: Path, rounds: int, count: bool) -> None:
    """The bar alone, in an existing environment: pytest on an empty file with the plugin and without it."""
    folder = Path(tempfile.mkdtemp(prefix="embedeval-tax-"))
    (folder / "test_empty.py").write_text("")
    env = clean_env()
    args = ["-q", "-p", "no:cacheprovider", "test_empty.py"]
    run = [str(venv / "bin" / "pytest"), *args]
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
    explain(venv, args, folder, env, count)


if __name__ == "__main__":
    main()
