"""Random-weight models of real shapes: real cost, offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_embedeval.models.zoo import SHAPES, build_random_model


def test_minilm_shape_matches_the_real_minilm(tmp_path: Path, minilm_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    real = SentenceTransformer(str(minilm_path), device="cpu")
    folder = build_random_model("minilm-l6", tmp_path / "m")
    fake = SentenceTransformer(str(folder), device="cpu")
    assert sum(p.numel() for p in fake.parameters()) == sum(p.numel() for p in real.parameters())
    assert fake.encode(["a test"]).shape == real.encode(["a test"]).shape == (1, 384)
    assert fake.max_seq_length == real.max_seq_length == 256
    # same seed, same weights: the zoo is reproducible
    again = SentenceTransformer(str(build_random_model("minilm-l6", tmp_path / "n")), device="cpu")
    assert (again.encode(["a test"]) == fake.encode(["a test"])).all()


def test_zoo_models_through_the_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        def test_shape(embed_model, embed_target):
            params = sum(p.numel() for p in embed_model.parameters())
            assert embed_target.model.name == "random-bert-base"
            assert 105e6 < params < 115e6
            assert embed_model.encode(["x"]).shape == (1, 768)
    """)
    result = pytester.runpytest("--embed-models=random:bert-base", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_shape?random-bert-base-cpu? PASSED*"])


def test_unknown_shape_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--embed-models=random:gpt-9")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*unknown random model shape 'gpt-9' in 'random:gpt-9' (known: {', '.join(SHAPES)})*"])
