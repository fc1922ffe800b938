"""Any encoder: ``--embed-models=package.module:factory`` or a name in the ``pytest_embedeval.encoders`` group.

The factory returns any object with ``encode(list[str]) -> array``; batch size,
normalisation and prompts are optional.  :class:`CustomEncoder` wraps it in the
``encode(sentences, batch_size=, show_progress_bar=, convert_to_numpy=,
normalize_embeddings=, prompt=)`` the rest of the package calls, forwarding
only the keyword arguments the user's ``encode`` accepts (a prompt it cannot
take is prepended to each text, which is all sentence-transformers does with
it) and checking what comes back: a finite 2-D float array, one row per input.

Figures the object cannot give are None, not guesses: parameters and weight
bytes when no torch module can be found on it (itself, or one attribute deep),
tokens when it exposes no ``tokenizer``.  A spec resolves (imports) at
configure time, so a typo is a usage error before any test; the memory probe's
child process imports it the same way, with the parent's ``sys.path``.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from pathlib import Path
from typing import Any, Callable

from pytest_embedeval.core.vectors import unit_rows
from pytest_embedeval.errors import ModelError

ENTRY_POINT_GROUP = "pytest_embedeval.encoders"
# "pkg.module:factory" or "pkg.module:Class.factory"; a Windows path (C:\...) does not match
FACTORY_SPEC = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def is_factory_spec(source: str) -> bool:
    return bool(FACTORY_SPEC.match(source))


def entry_point_spec(name: str) -> str | None:
    """The ``module:attr`` an installed plugin registered as ``name`` in :data:`ENTRY_POINT_GROUP`, or None."""
    from importlib.metadata import entry_points

    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.name == name:
            return point.value.strip()
    return None


def spec_name(spec: str) -> str:
    """A short name for test ids and baseline files: ``my_pkg.encoders:make_minilm`` -> ``encoders.make_minilm``."""
    module, _, attr = spec.partition(":")
    return f"{module.rsplit('.', 1)[-1]}.{attr}"


def import_factory(spec: str, search: Path | None = None) -> Callable[..., Any]:
    """The callable ``spec`` names; ``search`` (the invocation dir) is tried when the module is not importable."""
    module_name, _, attr = spec.partition(":")
    try:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            top = module_name.split(".")[0]
            if search is None or exc.name not in (top, module_name) or str(search) in sys.path:
                raise
            sys.path.insert(0, str(search))  # as `python -m pytest` would have found it
            module = importlib.import_module(module_name)
    except Exception as exc:  # anything the user's module raises on import
        raise ModelError(f"model {spec!r}: cannot import {module_name!r}: {type(exc).__name__}: {exc}") from None
    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise ModelError(f"model {spec!r}: module {module_name!r} has no {attr!r}")
        target = getattr(target, part)
    if not callable(target):
        raise ModelError(f"model {spec!r}: {attr!r} is a {type(target).__name__}, not a callable factory")
    return target


def _accepts(function: Any) -> tuple[set[str], bool]:
    """The keyword names ``function`` takes, and whether it takes ``**kwargs``."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # builtins and C extensions may have no signature
        return set(), True
    names = {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return names, any(p.kind == p.VAR_KEYWORD for p in parameters)


def _torch_modules(obj: Any) -> list[Any]:
    """The torch modules of ``obj``: itself, or its attributes one level deep (a wrapper's ``self.model``)."""
    if "torch" not in sys.modules:
        return []
    import torch

    if isinstance(obj, torch.nn.Module):
        return [obj]
    found = [value for value in vars(obj).values() if isinstance(value, torch.nn.Module)] \
        if hasattr(obj, "__dict__") else []
    return list({id(m): m for m in found}.values())


class CustomEncoder:
    """The user's encoder behind the encode interface sentence-transformers has (see the module docstring)."""

    def __init__(self, inner: Any, spec: str) -> None:
        if not callable(getattr(inner, "encode", None)):
            raise ModelError(f"model {spec!r}: the factory returned a {type(inner).__name__} without an "
                             "encode(list[str]) method")
        self.inner, self.spec = inner, spec
        self._names, self._any = _accepts(inner.encode)
        modules = _torch_modules(inner)
        self.modules = modules
        # tokens per second need the texts' token counts: the object's tokenizer, else its wrapped model's
        holders = [inner, *modules]
        self.tokenizer = next((getattr(h, "tokenizer") for h in holders if getattr(h, "tokenizer", None)), None)
        self.max_seq_length = next((getattr(h, "max_seq_length") for h in holders
                                    if getattr(h, "max_seq_length", None)), None)
        prompts = next((getattr(h, "prompts") for h in holders if isinstance(getattr(h, "prompts", None), dict)), {})
        self.prompts: dict[str, str] = dict(prompts)

    def __repr__(self) -> str:
        return f"<CustomEncoder {self.spec}: {type(self.inner).__name__}>"

    def takes(self, name: str) -> bool:
        return self._any or name in self._names

    def encode(self, sentences: str | list[str], batch_size: int = 32, show_progress_bar: bool = False,
               convert_to_numpy: bool = True, normalize_embeddings: bool = False, prompt: str | None = None,
               **_: Any) -> Any:
        single = isinstance(sentences, str)
        texts = [sentences] if single else list(sentences)
        kwargs: dict[str, Any] = {}
        for name, value in (("batch_size", batch_size), ("show_progress_bar", show_progress_bar),
                            ("convert_to_numpy", convert_to_numpy)):
            if self.takes(name):
                kwargs[name] = value
        if normalize_embeddings and self.takes("normalize_embeddings"):
            kwargs["normalize_embeddings"] = True
        if prompt:
            if self.takes("prompt"):
                kwargs["prompt"] = prompt
            else:  # what sentence-transformers does with a prompt: prepend it
                texts = [prompt + text for text in texts]
        try:
            output = self.inner.encode(texts, **kwargs)
        except Exception as exc:
            raise ModelError(f"model {self.spec!r}: encode failed on {len(texts)} texts: "
                             f"{type(exc).__name__}: {exc}") from exc
        vectors = self._check(output, len(texts))
        if normalize_embeddings and not self.takes("normalize_embeddings"):
            vectors = unit_rows(vectors)
        return vectors[0] if single else vectors

    def _check(self, output: Any, rows: int) -> Any:
        import numpy as np

        if hasattr(output, "detach"):  # a torch tensor
            output = output.detach().float().cpu().numpy()
        try:
            array = np.asarray(output)
        except Exception as exc:  # ragged lists and the like
            raise ModelError(f"model {self.spec!r}: encode returned a {type(output).__name__} that is not an "
                             f"array: {exc}") from None
        if array.dtype.kind not in "fiu" or array.ndim != 2 or len(array) != rows:
            raise ModelError(f"model {self.spec!r}: encode returned {array.dtype} of shape {array.shape} for "
                             f"{rows} texts; expected a 2-D float array, one row per text")
        array = array.astype(np.float32, copy=False)
        if not np.isfinite(array).all():
            raise ModelError(f"model {self.spec!r}: encode returned non-finite values (NaN or inf)")
        return array

    def weight_summary(self) -> tuple[int | None, dict[str, float]]:
        """Parameters and weight MB of the torch modules found on the object; (None, {}) when there are none."""
        if not self.modules:
            return None, {}
        from pytest_embedeval.models.weights import weight_summary

        count, by_dtype = 0, {}
        for module in self.modules:
            params, weights = weight_summary(module)
            count += params
            for dtype, mb in weights.items():
                by_dtype[dtype] = by_dtype.get(dtype, 0.0) + mb
        return count, by_dtype


def load_custom(spec: str, device: str, search: Path | None = None) -> CustomEncoder:
    """Call the factory (with ``device=`` when it takes one) and wrap what it returns."""
    factory = import_factory(spec, search)
    names, any_kw = _accepts(factory)
    try:
        inner = factory(device=device) if any_kw or "device" in names else factory()
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"model {spec!r}: the factory raised {type(exc).__name__}: {exc}") from exc
    return CustomEncoder(inner, spec)
