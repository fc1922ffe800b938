"""Options, ini twins and environment variables, as a user sets them."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_embedeval.plugin.options import OPTIONS
from pytest_embedeval.plugin.settings import PARSERS, Settings, parse_devices, parse_list

REPORT_TEST = """
def test_sts(embed_eval):
    embed_eval.sts()
"""


def test_every_option_has_a_settings_field_a_parser_and_an_ini_twin(pytester: pytest.Pytester) -> None:
    fields = set(Settings._fields) - {"sources", "bases"}
    assert {option.name for option in OPTIONS} == fields == set(PARSERS)
    result = pytester.runpytest("--help")
    for option in OPTIONS:
        result.stdout.fnmatch_lines([f"*{option.cli}*"])
        result.stdout.fnmatch_lines([f"*{option.ini} (*"])


def test_help_groups_options(pytester: pytest.Pytester) -> None:
    pytester.runpytest("--help").stdout.fnmatch_lines(["embedding model evaluation (pytest-embedeval):"])


def test_parse_list_accepts_commas_spaces_and_lines() -> None:
    assert parse_list("minilm, mpnet\n ./x") == ("minilm", "mpnet", "./x")
    with pytest.raises(ValueError):
        parse_list(" , ")


@pytest.mark.parametrize(("bad", "reason"), [("gpu", "unknown device 'gpu'"), ("cuda:x", "unknown device 'cuda:x'"),
                                             ("cpu,cuda,cpu", "'cpu' listed twice"), ("CPU", "unknown device 'CPU'")])
def test_bad_devices_are_rejected(bad: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_devices(bad)
    assert parse_devices("cpu, cuda:1") == ("cpu", "cuda:1")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--embed-devices=gpu"], "*--embed-devices=gpu: unknown device 'gpu'*"),
        (["--embed-batch-size=0"], "*--embed-batch-size=0: 0 is outside 1..65536*"),
        (["--embed-batch-size=many"], "*--embed-batch-size=many: 'many' is not a whole number*"),
        (["--embed-sts-splits=dev/../x"], "*bad split name*"),
        (["--embed-sts-splits=dev,test,dev"], "*--embed-sts-splits=dev,test,dev: 'dev' listed twice*"),
        (["--embed-dtypes=int8,fp32,int8"], "*--embed-dtypes=int8,fp32,int8: 'int8' listed twice*"),
    ],
)
def test_bad_option_values_are_usage_errors(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_bad_ini_value_names_the_ini_file(pytester: pytest.Pytester) -> None:
    ini = pytester.makeini("[pytest]\nembed_devices = cpu, tpu\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*embed_devices in {ini}: unknown device 'tpu'*"])


def test_ini_selects_models_devices_and_data(pytester: pytest.Pytester, minilm_path: Path, tiny_csv: Path) -> None:
    pytester.makeini(f"[pytest]\nembed_models =\n    minilm\n    {minilm_path}\nembed_devices = cpu\n"
                     f"embed_sts_path = {tiny_csv.name}\nembed_batch_size = 4\n")
    pytester.makepyfile("""
        def test_settings(embed_eval, request):
            assert embed_eval.resources.settings.batch_size == 4
            assert embed_eval.dataset().name == "pairs"
    """)
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_settings?minilm-cpu? PASSED*", "*test_settings?model-cpu? PASSED*"])


def test_cli_overrides_ini(pytester: pytest.Pytester, tiny_csv: Path) -> None:
    pytester.makeini("[pytest]\nembed_models = ./does-not-exist\n")
    pytester.makepyfile("def test_x(embed_target):\n    assert embed_target.model.name == 'minilm'\n")
    result = pytester.runpytest("--embed-models=minilm")
    result.assert_outcomes(passed=1)


def test_ini_paths_resolve_against_rootdir(pytester: pytest.Pytester, tiny_csv: Path) -> None:
    pytester.makeini("[pytest]\nembed_sts_path = pairs.csv\n")
    sub = pytester.mkdir("sub")
    sub.joinpath("test_path.py").write_text(
        "def test_path(sts_dataset):\n"
        f"    assert sts_dataset.source == {str(tiny_csv)!r}\n"
    )
    result = pytester.runpytest("--embed-models=minilm", "sub", "--rootdir", str(pytester.path))
    result.assert_outcomes(passed=1)


def test_environment_variable_gives_the_data_path(pytester: pytest.Pytester, tiny_csv: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBEDEVAL_STS_PATH", str(tiny_csv))
    pytester.makepyfile("def test_path(sts_dataset):\n    assert len(sts_dataset) == 6\n")
    pytester.runpytest("--embed-models=minilm").assert_outcomes(passed=1)


def test_bool_ini_value_is_checked(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nembed_trust_remote_code = perhaps\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*embed_trust_remote_code in *: 'perhaps' is not a boolean*"])
