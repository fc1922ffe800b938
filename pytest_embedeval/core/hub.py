"""Reaching the Hugging Face hub without stalling the run.

sentence-transformers and datasets retry a dead network for over a minute
(five retries, eight seconds apart, measured here).  One metadata request with
a short timeout answers the same question in well under a second, so we ask
first and fail fast with advice when the hub cannot be reached.
"""

from __future__ import annotations

from typing import Any, Sequence

from pytest_embedeval.errors import DataError, HubError

# a metadata request answers in well under a second; 3 s leaves room under the 5 s a dead network may cost
PROBE_TIMEOUT_S = 3.0
# a file every model / data set repository has, to tell whether a copy is cached
_PROBE_FILES = {"model": "config.json", "dataset": "README.md"}
_LOCAL = {"model": "give a local model folder in --embed-models",
          "dataset": "pass --embed-sts-path=PATH (or set EMBEDEVAL_STS_PATH) to a local copy"}


def _unreachable(hub_id: str, repo_type: str) -> str | None:
    """Why the hub cannot serve ``hub_id`` right now, or None when it can."""
    from huggingface_hub import dataset_info, model_info
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    info = model_info if repo_type == "model" else dataset_info
    try:
        info(hub_id, timeout=PROBE_TIMEOUT_S)
    except GatedRepoError:
        return None  # reachable; the library's own error explains the token
    except RepositoryNotFoundError:
        raise HubError(f"{repo_type} {hub_id!r} does not exist on the Hugging Face hub "
                       "(or is private: log in with `hf auth login`)") from None
    except Exception as exc:  # any transport failure: DNS, refused, timeout, proxy
        return f"{type(exc).__name__}: {exc}"
    return None


def cache_only(hub_id: str, repo_type: str) -> bool:
    """Whether ``hub_id`` must be read from the local cache; raise when neither works.

    True when offline (HF_HUB_OFFLINE) or the hub is unreachable but a copy is
    cached; False when the hub answers.
    """
    from huggingface_hub import is_offline_mode, try_to_load_from_cache

    cached = isinstance(try_to_load_from_cache(hub_id, _PROBE_FILES[repo_type], repo_type=repo_type), str)
    if is_offline_mode():
        if cached:
            return True
        raise HubError(f"{repo_type} {hub_id!r} is not in the local Hugging Face cache and "
                       f"HF_HUB_OFFLINE is set: it needs the hub once, or {_LOCAL[repo_type]}")
    reason = _unreachable(hub_id, repo_type)
    if reason is None:
        return False
    if cached:
        return True
    raise HubError(f"{repo_type} {hub_id!r} needs the Hugging Face hub, which cannot be reached "
                   f"({reason}); {_LOCAL[repo_type]}")


def load_hub_tables(hub_id: str, parts: Sequence[tuple[str | None, str]], *, what: str, local: str,
                    revision: str | None = None) -> list[Any]:
    """Each ``(config, split)`` of a hub data set through ``datasets``, after one probe of the hub.

    ``what`` names the data in errors ("STS task STS13 ('mteb/sts13-sts')"); ``local`` is the advice
    for using a local copy instead ("pass --embed-sts-path").  Offline and cached, or reachable: loaded;
    unreachable but cached without HF_HUB_OFFLINE: an error saying so (datasets would retry for a minute).
    """
    from huggingface_hub import is_offline_mode

    if cache_only(hub_id, "dataset") and not is_offline_mode():
        raise DataError(f"{what} needs the Hugging Face hub, which cannot be reached; "
                        f"set HF_HUB_OFFLINE=1 to use the cached copy, or {local}")
    import datasets

    tables = []
    for config, split in parts:
        try:
            tables.append(datasets.load_dataset(hub_id, config, revision=revision, split=split))
        except Exception as exc:  # datasets raises many types for missing configs, splits, files and caches
            raise DataError(f"{what}: config {config or 'default'!r} split {split!r} could not be loaded: "
                            f"{type(exc).__name__}: {exc}") from exc
    return tables
