"""What a measurement ran on: versions, CPU, threads, commit.

Versions come from installed package metadata, so describing the environment
never imports torch or sentence-transformers.
"""

from __future__ import annotations

import datetime
import hashlib
import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

PACKAGES = ("pytest-embedeval", "torch", "sentence-transformers", "transformers", "tokenizers", "numpy", "scipy",
            "onnxruntime")


def package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit(folder: Path) -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def torch_threads() -> int | None:
    """Threads torch uses for CPU work; only when torch is already imported."""
    torch = sys.modules.get("torch")
    return torch.get_num_threads() if torch is not None else None


def gpu_name() -> str | None:
    """The CUDA device's name; only when torch is already imported and sees one."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    return str(torch.cuda.get_device_name())


def host_id() -> str:
    """This host, this boot: a short hash of the host name, ``/etc/machine-id`` and the kernel's boot id.

    Two hosts of one kind (same CPU model and cores) still run one model's code a few percent apart
    against the yardstick (docs/gates.md), so a baseline says where it was measured.  The boot id is
    in it because cloned VM images share a host name and machine id, and a VM can come back from a
    reboot on other hardware: an unknown host is treated as another host, never as this one.
    """
    parts = [platform.node()]
    for name in ("/etc/machine-id", "/proc/sys/kernel/random/boot_id"):
        try:
            parts.append(Path(name).read_text().strip())
        except OSError:
            parts.append("")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def describe(rootdir: Path) -> dict[str, Any]:
    return {
        "host": host_id(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch_threads(),
        "gpu": gpu_name(),
        "executable": sys.executable,  # another install of the same packages maps other file pages (RSS)
        "versions": {name: package_version(name) for name in PACKAGES},
        "git_commit": git_commit(rootdir),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def machine(environment: dict[str, Any]) -> dict[str, Any]:
    """The machine's kind: raw speed and memory compare only between machines of one kind."""
    return {"cpu": environment.get("cpu"), "cpu_count": environment.get("cpu_count"), "gpu": environment.get("gpu")}


def changed_versions(then: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """``torch 2.13.0 -> 2.14.1`` for every package (and the torch thread count) that differs."""
    before = {**(then.get("versions") or {}), "torch threads": then.get("torch_threads")}
    after = {**(now.get("versions") or {}), "torch threads": now.get("torch_threads")}
    return [f"{name} {before.get(name)} -> {after.get(name)}" for name in sorted(set(before) | set(after))
            if before.get(name) != after.get(name) and before.get(name) is not None]
