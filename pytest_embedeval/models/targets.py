"""Which models and devices a run evaluates, and the one identity every layer uses for them.

Resolution (:func:`resolve_model`) only looks at names and folders, so it runs
at configure time and turns a typo into a usage error before any test.
:class:`TargetKey` is a target's identity as plain strings: the test id, the
label people write, the baseline file's variant and the report's row name all
derive from it, so they cannot drift apart.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Mapping

from pytest_embedeval.errors import ModelError
from pytest_embedeval.models import custom, zoo
from pytest_embedeval.models.aliases import ALIASES
from pytest_embedeval.models.variants import DEFAULT_BACKEND, DEFAULT_DTYPE, parse_variant, variant_name

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class TargetKey:
    """A model (its short name) on a device in a variant: what every result and verdict is about."""

    model: str
    device: str
    variant: str = ""  # "" for fp32 on torch, else "int8", "onnx" ... (variants.py)

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> TargetKey:
        """The key of a result record (``model``, ``device``, ``variant`` fields)."""
        return cls(str(record["model"]), str(record["device"]), str(record.get("variant") or ""))

    @property
    def id(self) -> str:
        """The test id: ``minilm-cpu-int8``."""
        return "-".join(part for part in (self.model, self.device, self.variant) if part)

    @property
    def label(self) -> str:
        """The model as a person names it: ``minilm``, ``minilm@int8``."""
        return f"{self.model}@{self.variant}" if self.variant else self.model

    @property
    def variant_key(self) -> str:
        """The section of the model's baseline file: the device, with the variant: ``cpu``, ``cpu-int8``."""
        return "-".join(part for part in (self.device, self.variant) if part)

    @property
    def text(self) -> str:
        """A report row: ``minilm cpu int8``."""
        return " ".join(part for part in (self.model, self.device, self.variant) if part)


class Targeted:
    """For result types: their ``model``, ``device`` and ``variant`` fields name the target they measured."""

    model: str
    device: str
    variant: str

    @property
    def target(self) -> TargetKey:
        return TargetKey(self.model, self.device, self.variant)


@dataclass(frozen=True)
class ModelSpec:
    """A model as the user named it, resolved to a local folder or a hub id."""

    name: str  # short, used in test ids and reports: "minilm", "all-mpnet-base-v2"
    source: str  # what the user wrote
    path: Path | None = None  # a local sentence-transformers or transformers folder
    hub_id: str | None = None  # loaded through the hub when there is no local folder
    zoo: str | None = None  # a random-weight shape of zoo.SHAPES, built into a folder on first use
    factory: str | None = None  # "package.module:factory" returning any encoder (custom.py)

    @property
    def location(self) -> str:
        if self.path is not None:
            return str(self.path)
        if self.factory is not None:
            return f"factory:{self.factory}"
        return f"hub:{self.hub_id}" if self.hub_id else f"random:{self.zoo}"


@dataclass(frozen=True)
class EmbedTarget:
    """One parametrization of the embed fixtures: a model on a device, in a precision and backend."""

    model: ModelSpec
    device: str
    dtype: str = DEFAULT_DTYPE
    backend: str = DEFAULT_BACKEND

    @property
    def variant(self) -> str:
        """"" for fp32 on torch, else "int8", "bf16", "onnx" ... (see variants.py)."""
        return variant_name(self.dtype, self.backend)

    @property
    def key(self) -> TargetKey:
        return TargetKey(self.model.name, self.device, self.variant)

    @property
    def id(self) -> str:
        return self.key.id

    @property
    def label(self) -> str:
        return self.key.label

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
    if "@" not in source:
        return source, DEFAULT_DTYPE, DEFAULT_BACKEND
    name, _, variant = source.rpartition("@")
    try:
        dtype, backend = parse_variant(variant)
    except ValueError as exc:
        raise ModelError(f"model {source!r}: {exc}") from None
    return name, dtype, backend


def resolve_model(source: str, base: Path) -> ModelSpec:
    """Alias, random-weight shape, ``module:factory``, an encoder plugin's entry-point name, local folder
    (anything path-like) or hub id ``org/name``."""
    if source.startswith(zoo.PREFIX):
        shape = zoo.shape_of(source)
        return ModelSpec(f"random-{shape}", source, zoo=shape)
    if custom.is_factory_spec(source):
        custom.import_factory(source, base)  # a typo is a usage error now, not a failure in every test
        return ModelSpec(custom.spec_name(source), source, factory=source)
    if source in ALIASES:
        alias = ALIASES[source]
        local = alias.local_path()
        if local is not None:
            check_model_folder(local, source)
            return ModelSpec(source, source, path=local)
        return ModelSpec(source, source, hub_id=alias.hub_id)
    plugin = None if "/" in source or os.sep in source else custom.entry_point_spec(source)
    if plugin is not None:
        if not custom.is_factory_spec(plugin):
            raise ModelError(f"model {source!r}: its {custom.ENTRY_POINT_GROUP} entry point {plugin!r} "
                             "is not module:factory")
        custom.import_factory(plugin, base)
        return ModelSpec(source, source, factory=plugin)
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
