"""Loading each target once per session, building random-weight models on first use.

Loading imports torch and sentence-transformers on first use only; a model
that fails to load fails every later test of it fast, with the same message.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from pytest_embedeval.core.fingerprint import folder_fingerprint
from pytest_embedeval.core.hub import cache_only
from pytest_embedeval.errors import EmbedEvalError, ModelError
from pytest_embedeval.models import variants
from pytest_embedeval.models.targets import EmbedTarget, ModelSpec, local_folder, resolve_device
from pytest_embedeval.models.zoo import build_random_model


def load_target(target: EmbedTarget, trust_remote_code: bool = False) -> Any:
    """Load ``target`` as a SentenceTransformer on its device; errors name the model.

    A random-weight (zoo) model must have been built into a folder first
    (:meth:`ModelPool.materialise`).
    """
    spec = target.model
    if spec.factory is not None:
        if target.variant:
            raise ModelError(f"model {spec.source!r}: variants ({target.variant}) apply to sentence-transformers "
                             "models only; a custom encoder runs as its factory builds it")
        from pytest_embedeval.models.custom import load_custom

        return load_custom(spec.factory, resolve_device(target.device))
    if spec.path is None and spec.zoo is not None:
        raise ModelError(f"model {spec.source!r} has not been built; call ModelPool.materialise first")
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
    return variants.apply(model, target.dtype, target.backend, onnx_dir(spec) if target.backend == "onnx" else None)


def onnx_dir(spec: ModelSpec) -> Path:
    """Where the ONNX export of a model lives: keyed by the model files' content, shared by processes."""
    folder = local_folder(spec)
    if folder is None:
        raise ModelError(f"model {spec.source!r}: no local files to export to ONNX")
    return Path(tempfile.gettempdir()) / "embedeval-onnx" / folder_fingerprint(folder)[:16]


@dataclass
class ModelPool:
    """Loads each target once per session (per xdist worker) and counts the loads."""

    trust_remote_code: bool = False
    loader: Callable[[EmbedTarget], Any] | None = None  # default: load_target, looked up at each load
    models: dict[EmbedTarget, Any] = field(default_factory=dict)
    failures: dict[EmbedTarget, EmbedEvalError] = field(default_factory=dict)
    loads: dict[str, int] = field(default_factory=dict)
    load_seconds: dict[str, float] = field(default_factory=dict)
    _built: dict[str, Path] = field(default_factory=dict)
    _zoo_dir: Path | None = None

    def get(self, target: EmbedTarget) -> Any:
        if target in self.failures:  # a model that failed to load fails every test fast
            raise self.failures[target]
        if target not in self.models:
            start = time.perf_counter()
            try:
                loader = self.loader or (lambda built: load_target(built, self.trust_remote_code))
                self.models[target] = loader(self.materialise(target))
            except EmbedEvalError as exc:
                self.failures[target] = exc
                raise
            self.load_seconds[target.id] = time.perf_counter() - start
            self.loads[target.id] = self.loads.get(target.id, 0) + 1
        return self.models[target]

    @property
    def zoo_dir(self) -> Path:
        """A temporary folder for models this session builds, removed by :meth:`close`."""
        if self._zoo_dir is None:
            self._zoo_dir = Path(tempfile.mkdtemp(prefix="embedeval-zoo-"))
        return self._zoo_dir

    def build(self, name: str, make: Any) -> Path:
        """``make(folder)`` once per session: a model this session builds (zoo shapes, the yardstick)."""
        if name not in self._built:
            self._built[name] = make(self.zoo_dir / name)
        return self._built[name]

    def materialise(self, target: EmbedTarget) -> EmbedTarget:
        """The target with a folder to load from: random-weight models are built on first use."""
        spec = target.model
        if spec.zoo is None or spec.path is not None:
            return target
        folder = self.build(spec.zoo, lambda path: build_random_model(spec.zoo, path))
        return replace(target, model=replace(spec, path=folder))

    def close(self) -> None:
        if self._zoo_dir is not None:
            shutil.rmtree(self._zoo_dir, ignore_errors=True)
