"""What a worker host has, asked before its worker starts: the plugin, the models, the data, its GPUs.

The controller sends this module's source over a fresh execnet gateway (``remote_exec``), so it
imports nothing at module level but the standard library: it must run where pytest-embedeval
is missing, to say so.  Without it a host that lacks the plugin, a model or the data fails
inside its worker, as a traceback that does not name the host.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any


def probe(request: dict[str, Any]) -> dict[str, Any]:
    """``request``: ``version``, ``models`` (sources), ``local_models`` (those local on the controller),
    ``paths`` (data locations to check).  Returns the problems found, this host's python and GPUs."""
    answer: dict[str, Any] = {"python": sys.executable, "problems": [], "gpus": []}
    problems = answer["problems"]
    try:
        from importlib.metadata import version

        import pytest_embedeval  # noqa: F401

        found = version("pytest-embedeval")
    except Exception as exc:  # ImportError, PackageNotFoundError: either way it is not usable here
        problems.append(f"pytest-embedeval is not installed for {sys.executable} ({type(exc).__name__}: {exc}); "
                        "install it there (pip install pytest-embedeval)")
        return answer
    if found != request["version"]:
        problems.append(f"pytest-embedeval {found} is installed, the controller runs {request['version']}; "
                        "install the same version on every host")
    from pytest_embedeval.core.gpus import visible_gpus
    from pytest_embedeval.models.targets import resolve_model

    answer["gpus"] = visible_gpus()
    for source in request["models"]:
        try:
            spec = resolve_model(source, Path.cwd())
        except Exception as exc:  # EmbedEvalError, or an import error in a custom encoder's module
            problems.append(f"model {source!r}: {exc}")
            continue
        if source in request["local_models"] and spec.path is None and spec.factory is None:
            problems.append(f"model {source!r} has no local copy here (the controller has one); install it there")
    for path in request["paths"]:  # {"label", "path"}: the same path; {"label", "env"}: this host's variable
        value = os.environ.get(path["env"]) if "env" in path else path["path"]
        if not value:
            problems.append(f"{path['label']} is not set here; set it to this host's copy of the data")
        elif not Path(value).expanduser().exists():
            shown = f"{path['label']}={value}" if "env" in path else path["label"]
            problems.append(f"{shown} does not exist here; copy the data there")
    return answer


if __name__ == "__channelexec__":
    channel.send(probe(channel.receive()))  # type: ignore[name-defined]  # noqa: F821
