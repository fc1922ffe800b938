"""Model ids, aliases, folders, devices and the session's model pool."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from pytest_embedeval.errors import ModelError
from pytest_embedeval.models.aliases import ALIASES
from pytest_embedeval.models.pool import ModelPool
from pytest_embedeval.models.targets import EmbedTarget, ModelSpec, resolve_model, unique_names


def test_minilm_alias_resolves_to_the_installed_package(minilm_path: Path, tmp_path: Path) -> None:
    spec = resolve_model("minilm", tmp_path)
    assert spec == ModelSpec("minilm", "minilm", path=minilm_path)


def test_alias_without_a_local_copy_uses_the_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EMBEDEVAL_MPNET_PATH", raising=False)
    monkeypatch.setitem(ALIASES, "mpnet", replace(ALIASES["mpnet"], fetched=tmp_path / "not-fetched"))
    spec = resolve_model("mpnet", tmp_path)
    assert spec.hub_id == ALIASES["mpnet"].hub_id and spec.path is None


def test_mpnet_alias_finds_a_fetched_copy_or_the_environment_variable(
        tmp_path: Path, minilm_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EMBEDEVAL_MPNET_PATH", raising=False)
    fetched = tmp_path / "fetched"
    shutil.copytree(minilm_path, fetched)  # any sentence-transformers folder stands in for the fetched copy
    monkeypatch.setitem(ALIASES, "mpnet", replace(ALIASES["mpnet"], fetched=fetched))
    assert resolve_model("mpnet", tmp_path).path == fetched
    monkeypatch.setenv("EMBEDEVAL_MPNET_PATH", str(minilm_path))  # the variable wins
    assert resolve_model("mpnet", tmp_path).path == minilm_path.resolve()
    monkeypatch.setenv("EMBEDEVAL_MPNET_PATH", str(tmp_path / "missing"))  # and a wrong one is an error, not the hub
    with pytest.raises(ModelError, match=r"model 'mpnet': folder .*missing does not exist"):
        resolve_model("mpnet", tmp_path)


def test_hub_id_and_local_folder(tmp_path: Path, minilm_path: Path) -> None:
    assert resolve_model("BAAI/bge-small-en-v1.5", tmp_path).hub_id == "BAAI/bge-small-en-v1.5"
    folder = tmp_path / "org" / "model"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    # an existing relative folder wins over the hub id of the same spelling
    assert resolve_model("org/model", tmp_path).path == folder


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("minilm2", "unknown model alias 'minilm2' (known: minilm, mpnet)"),
        ("./missing", "does not exist"),
        ("/", "is not a model (no modules.json or config.json)"),
    ],
)
def test_bad_model_ids(tmp_path: Path, source: str, message: str) -> None:
    with pytest.raises(ModelError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve_model(source, tmp_path)


def test_unique_names() -> None:
    specs = [ModelSpec("model", "a/model", hub_id="a/model"), ModelSpec("model", "b/model", hub_id="b/model")]
    assert [s.name for s in unique_names(specs)] == ["model", "model-2"]


def test_pool_loads_each_target_once_and_remembers_failures() -> None:
    calls: list[str] = []

    def loader(target: EmbedTarget) -> str:
        calls.append(target.id)
        if target.model.name == "broken":
            raise ModelError("broken model")
        return f"model {target.id}"

    pool = ModelPool(loader=loader)
    good = EmbedTarget(ModelSpec("good", "good", hub_id="x/good"), "cpu")
    bad = EmbedTarget(ModelSpec("broken", "broken", hub_id="x/broken"), "cpu")
    assert pool.get(good) is pool.get(good)
    for _ in range(2):
        with pytest.raises(ModelError):
            pool.get(bad)
    assert calls == ["good-cpu", "broken-cpu"]
    assert pool.loads == {"good-cpu": 1}


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        ("--embed-models=minilm2", "*--embed-models=minilm2: unknown model alias 'minilm2'*"),
        ("--embed-models=./nowhere", "*--embed-models=./nowhere: model './nowhere': folder */nowhere does not exist*"),
        ("--embed-models=.", "*model '.': folder * is not a model*"),
    ],
)
def test_model_errors_are_usage_errors_naming_the_model(pytester: pytest.Pytester, arg: str, message: str) -> None:
    result = pytester.runpytest(arg)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_ids_and_device_skip(pytester: pytest.Pytester, tiny_csv: Path) -> None:
    pytester.makepyfile("""
        def test_device(embed_device, embed_target):
            assert embed_device == "cpu"
    """)
    result = pytester.runpytest("--embed-models=minilm", "--embed-devices=cpu,cuda,mps", "-v", "-rs")
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines([
        "*test_device?minilm-cpu? PASSED*",
        "*SKIPPED*device 'cuda' is not available: torch * sees no CUDA GPU*",
        "*SKIPPED*device 'mps' is not available*",
    ])


def test_auto_device_resolves_to_what_is_present(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import torch
        def test_auto(embed_device, embed_model):
            expected = "cuda" if torch.cuda.is_available() else "cpu"
            assert embed_device == expected
            assert embed_model.device.type == expected
    """)
    pytester.runpytest("--embed-models=minilm", "--embed-devices=auto").assert_outcomes(passed=1)


def test_without_models_embed_fixtures_skip_with_a_reason(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        def test_model(embed_model): pass
        def test_eval(embed_eval): pass
        def test_data(sts_dataset): pass
        def test_plain(): pass
    """)
    result = pytester.runpytest("-rs")
    result.assert_outcomes(passed=1, skipped=3)
    result.stdout.fnmatch_lines(["*no embedding model selected: pass --embed-models=ID*"])


def test_model_is_loaded_once_per_session(pytester: pytest.Pytester, tiny_csv: Path) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.parametrize("n", range(5))
        def test_many(embed_model, n):
            assert embed_model.encode(["hello"]).shape == (1, 384)

        def test_count(embed_eval):
            assert embed_eval.resources.pool.loads == {"minilm-cpu": 1}
    """)
    pytester.runpytest("--embed-models=minilm", "-p", "no:randomly").assert_outcomes(passed=6)


def test_trust_remote_code_is_off_unless_asked(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    import sentence_transformers

    seen: list[bool] = []

    class Recording:
        def __init__(self, location: str, **kwargs: object) -> None:
            seen.append(bool(kwargs["trust_remote_code"]))

    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", Recording)
    pytester.makepyfile("def test_load(embed_model): pass")
    pytester.inline_run("--embed-models=minilm").assertoutcome(passed=1)
    pytester.inline_run("--embed-models=minilm", "--embed-trust-remote-code").assertoutcome(passed=1)
    assert seen == [False, True]
