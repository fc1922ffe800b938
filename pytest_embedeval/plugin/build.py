"""From settings to a run: resolve the models named in the options into targets, and gather what they need.

Resolution only looks at names and folders, so a typo is a usage error naming
the option before any test runs.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from pytest_embedeval.errors import EmbedEvalError
from pytest_embedeval.measure.latency import Timing
from pytest_embedeval.measure.registry import parse_task
from pytest_embedeval.models.pool import ModelPool
from pytest_embedeval.models.targets import EmbedTarget, resolve_model, split_variant, unique_names
from pytest_embedeval.plugin import xdist
from pytest_embedeval.plugin.settings import Settings
from pytest_embedeval.plugin.run import EmbedRun, Recording, Resources


def build_run(config: pytest.Config, settings: Settings) -> EmbedRun:
    def resolve(source: str, option: str) -> Any:
        try:
            return resolve_model(source, settings.bases[option])
        except EmbedEvalError as exc:
            raise pytest.UsageError(f"{settings.sources[option]}: {exc}") from None

    def variant_of(source: str, option: str) -> tuple[str, str, str]:
        try:  # "minilm@int8": one variant of a model
            return split_variant(source)
        except EmbedEvalError as exc:
            raise pytest.UsageError(f"{settings.sources[option]}: {exc}") from None

    # a model named with @variant runs in that variant only; a bare one in every --embed-dtypes x --embed-backends
    entries = [(variant_of(item, "models"), "@" in item) for item in settings.models or ()]
    resolved = [resolve(source, "models") for (source, _, _), _ in entries]
    named = dict(zip(dict.fromkeys(resolved), unique_names(list(dict.fromkeys(resolved)))))
    targets = list(dict.fromkeys(
        EmbedTarget(named[spec], device, dtype, backend)
        for spec, ((_, own_dtype, own_backend), explicit) in zip(resolved, entries) for device in settings.devices
        for backend in ((own_backend,) if explicit else settings.backends)
        for dtype in ((own_dtype,) if explicit else settings.dtypes)))
    for task in settings.tasks or ():  # MTEB's names were checked with the option; the user's folders now
        try:
            parse_task(task, settings.task_path)
        except ValueError as exc:
            raise pytest.UsageError(f"{settings.sources['tasks']}: {exc}") from None
    resources = Resources(settings, ModelPool(settings.trust_remote_code), timing=_timing(config, settings),
                          benchmark_skip=bool(config.getoption("benchmark_skip", False)),
                          lock=xdist.worker_lock(config), embeddings=_embedding_cache(config, settings))
    run = EmbedRun(settings, targets, resources, Recording(settings, config.rootpath))

    def acceptance_target(option: str) -> EmbedTarget:
        source, dtype, backend = variant_of(getattr(settings, option), option)  # a variant can be the candidate
        return EmbedTarget(resolve(source, option), settings.devices[0], dtype, backend)

    if settings.candidate and settings.incumbent:
        candidate, incumbent = acceptance_target("candidate"), acceptance_target("incumbent")
        if candidate == incumbent:  # the same model twice: two names, so ids and reports tell them apart
            incumbent = replace(incumbent, model=unique_names([candidate.model, incumbent.model])[1])
        run.acceptance_targets = (candidate, incumbent)
    return run


def _embedding_cache(config: pytest.Config, settings: Settings) -> Any:
    """Under pytest's cache dir, so ``--cache-clear`` empties it; none without the cacheprovider.  A cache
    folder that cannot be written warns and the run goes on, as pytest's own cache does."""
    cache = getattr(config, "cache", None)
    if not settings.cache or cache is None:
        return None
    from pytest_embedeval.measure.cache import EmbeddingCache

    def warn(message: str) -> None:
        import warnings

        warnings.warn(pytest.PytestCacheWarning(message), stacklevel=2)

    try:
        folder = cache.mkdir("embedeval-embeddings")
    except OSError as exc:
        config.issue_config_time_warning(pytest.PytestCacheWarning(
            f"embedding cache off: could not create it under {exc.filename} ({exc.strerror or exc})"), stacklevel=2)
        return None
    return EmbeddingCache(folder, warn)


def _timing(config: pytest.Config, settings: Settings) -> Timing:
    """Round counts are ours; the timer and GC switch are pytest-benchmark's options."""
    timing = Timing(rounds=settings.latency_rounds, warmup=settings.latency_warmup,
                    disable_gc=bool(config.getoption("benchmark_disable_gc", False)))
    timer_name = config.getoption("benchmark_timer", None)
    if timer_name:
        from pytest_benchmark.utils import load_timer

        timing = Timing(timing.rounds, timing.warmup, load_timer(str(timer_name)).target, timing.disable_gc)
    return timing
