"""Command-line options, their ini twins and environment variables, in one table.

Every option is declared once in :data:`OPTIONS`; :func:`add_options` registers
``--embed-NAME`` (default ``None``) and the ini key ``embed_NAME`` from it, and
:func:`read_settings` resolves each value as CLI, then ini, then environment,
then default.  A bad value raises :class:`pytest.UsageError` naming the flag,
ini file or variable it came from.  Declaring options as data keeps the CLI and
the ini from drifting apart (a trap pytest-memray fell into).
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any, Callable, NamedTuple

import pytest

DEVICE_PATTERN = re.compile(r"^(cpu|mps|auto|cuda(:\d+)?)$")
SPLIT_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+$")


def parse_list(raw: str) -> tuple[str, ...]:
    """Split on commas, spaces and newlines (the ini may hold one item per line)."""
    items = tuple(item for item in re.split(r"[,\s]+", raw) if item)
    if not items:
        raise ValueError("expected at least one value")
    return items


def checked_list(why_not: Callable[[str], str | None]) -> Callable[[str], tuple[str, ...]]:
    """A parser of comma lists whose every item passes ``why_not`` (None, else the reason) and none repeats."""

    def parse(raw: str) -> tuple[str, ...]:
        values = parse_list(raw)
        for value in values:
            reason = why_not(value)
            if reason:
                raise ValueError(reason)
        repeated = sorted({value for value in values if values.count(value) > 1})
        if repeated:
            raise ValueError(f"{', '.join(map(repr, repeated))} listed twice")
        return values

    return parse


def choices_list(*allowed: str) -> Callable[[str], tuple[str, ...]]:
    return checked_list(lambda value: None if value in allowed else
                        f"unknown value {value!r} (choose from {', '.join(allowed)})")


parse_devices = checked_list(lambda device: None if DEVICE_PATTERN.match(device) else
                             f"unknown device {device!r} (choose from cpu, cuda, cuda:N, mps, auto)")
parse_splits = checked_list(lambda split: None if SPLIT_PATTERN.match(split) else
                            f"bad split name {split!r} (letters, digits, '_', '-', '.')")


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"{raw!r} is not a whole number") from None
        if not low <= value <= high:
            raise ValueError(f"{value} is outside {low}..{high}")
        return value

    return parse


def parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{raw!r} is not a boolean (true/false)")


def parse_text(raw: str) -> str:
    if not raw.strip():
        raise ValueError("expected a value")
    return raw.strip()


def _number(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not a number") from None


# The parsers below import the layer that owns the check only when the option is given: this module is
# imported by every pytest run in the environment (pytest_addoption), embeddings or not.

def positive_number(raw: str) -> float:
    from pytest_embedeval.gate.policy import positive

    return positive(_number(raw), repr(raw))


def per_model(parse: Callable[[str], float]) -> Callable[[str], dict[str, float]]:
    """``85`` for every model, or ``minilm=85, mpnet=88`` (``*=80`` for the rest)."""

    def parse_map(raw: str) -> dict[str, float]:
        items = parse_list(raw)
        if len(items) == 1 and "=" not in items[0]:
            return {"*": parse(items[0])}
        budgets = {}
        for item in items:
            name, sep, value = item.partition("=")
            if not sep or not name:
                raise ValueError(f"{item!r}: write MODEL=VALUE (or one VALUE for every model)")
            budgets[name] = parse(value)
        return budgets

    return parse_map


def spearman_points(raw: str) -> float:
    from pytest_embedeval.gate.policy import correlation

    return correlation(_number(raw), repr(raw))


def _prompts(raw: str) -> dict[str, str]:
    from pytest_embedeval.models.prompts import parse_prompts

    return parse_prompts(raw)


def _limits(raw: str) -> tuple[Any, ...]:
    from pytest_embedeval.report.selection import parse_limits

    return parse_limits(raw)


def fraction(raw: str) -> float:
    """``15%`` or ``0.15``; a bare number above 1 is ambiguous and refused."""
    text = raw.strip()
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise ValueError(f"{raw!r} is not a percentage (write 15% or 0.15)") from None
    if math.isfinite(value) and not text.endswith("%") and 1 < value <= 1000:
        raise ValueError(f"{raw!r} is ambiguous: write {text}% or {value / 100:g}")
    if not math.isfinite(value) or not 0 <= value <= 10:
        raise ValueError(f"{raw!r} is outside 0%..1000%")
    return value


def non_negative(raw: str) -> float:
    value = _number(raw)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{raw!r} must be a finite number >= 0")
    return value


def confidence_level(raw: str) -> float:
    value = fraction(raw)
    if not 0.5 <= value < 1:
        raise ValueError(f"{raw!r} must lie in 50%..99.9% (e.g. 95% or 0.95)")
    return value


def choice(*values: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw.strip() not in values:
            raise ValueError(f"{raw!r} is not one of {', '.join(values)}")
        return raw.strip()

    return parse


def task_list(sts_only: bool) -> Callable[[str], tuple[str, ...]]:
    def parse(raw: str) -> tuple[str, ...]:  # --embed-tasks (any kind) or --embed-sts-tasks; the registry on use
        from pytest_embedeval.measure.registry import task_names
        return task_names(checked_list(lambda name: None)(raw), sts_only)
    return parse


def _one_split(raw: str) -> str:
    splits = parse_splits(raw)
    if len(splits) > 1:
        raise ValueError("one split only")
    return splits[0]


# Option and Settings are NamedTuples, not dataclasses: every pytest run imports this module, and making
# the 43-field Settings a frozen dataclass cost 2.2 ms of exec'd code against 0.7 ms (docs/benchmarks.md)
class Option(NamedTuple):
    """One setting: ``--embed-<name>`` on the CLI, ``embed_<name>`` in the ini."""

    name: str
    help: str
    parse: Callable[[str], Any]
    default: Any = None
    metavar: str = "VALUE"
    flag: bool = False  # a CLI switch without a value; the ini takes true/false
    path: bool = False  # resolved against the invocation dir (CLI, env) or rootdir (ini)
    env: str | None = None

    @property
    def cli(self) -> str:
        return "--embed-" + self.name.replace("_", "-")

    @property
    def ini(self) -> str:
        return "embed_" + self.name


OPTIONS: tuple[Option, ...] = (
    Option("models", "models to evaluate: aliases (minilm, mpnet), hub ids org/name, or local folders",
           parse_list, metavar="ID[,ID...]"),
    Option("devices", "devices to run on: cpu, cuda, cuda:N, mps, auto (default: cpu); "
           "a device that is not present skips its tests", parse_devices, ("cpu",), metavar="DEV[,DEV...]"),
    Option("dtypes", "precisions to evaluate: fp32 (default), fp16, bf16, int8 (dynamic quantization); "
           "unsupported combinations skip", choices_list("fp32", "fp16", "bf16", "int8"), ("fp32",),
           metavar="T[,T...]"),
    Option("backends", "backends to evaluate: torch (default), onnx (ONNX Runtime, pip install "
           "pytest-embedeval[onnx])", choices_list("torch", "onnx"), ("torch",), metavar="B[,B...]"),
    Option("sts_path", "local STS data: a folder of STS-B files (sts-dev.csv ...) or a "
           "CSV/TSV/JSONL file with sentence1,sentence2,score (default: the hub's "
           "sentence-transformers/stsb)", parse_text, metavar="PATH", path=True, env="EMBEDEVAL_STS_PATH"),
    Option("sts_splits", "STS splits to evaluate: sts_dataset is parametrized over them and "
           "embed_eval.sts() uses the first (default: dev)", parse_splits, ("dev",), metavar="SPLIT[,SPLIT...]"),
    Option("batch_size", "encode batch size (default: 32, as MTEB and sentence-transformers)",
           bounded_int(1, 65536), 32, metavar="N"),
    Option("report", "write a JSON report of every measurement to PATH", parse_text, metavar="PATH", path=True),
    Option("latency_rounds", "timed rounds per latency measurement (default: 20)", bounded_int(2, 100000), 20,
           metavar="N"),
    Option("latency_warmup", "untimed warm-up rounds before them (default: 2)", bounded_int(0, 1000), 2,
           metavar="N"),
    Option("max_p95_ms", "latency budget of the bundled suites: p95 ms per batch, one value or MODEL=MS,...",
           per_model(positive_number), metavar="MS"),
    Option("max_peak_mb", "memory budget of the bundled suites: peak RSS MB, one value or MODEL=MB,...",
           per_model(positive_number), metavar="MB"),
    Option("min_spearman", "accuracy floor of the bundled suites: Spearman x100, one value or MODEL=S,...",
           per_model(spearman_points), metavar="S"),
    Option("baseline_dir", "folder of reviewed baseline JSON files, one per model (default: <rootdir>/baselines)",
           parse_text, metavar="PATH", path=True),
    Option("baseline_save", "write baselines for measurements that have none (existing ones are still compared)",
           parse_bool, False, flag=True),
    Option("baseline_update", "replace the baselines of everything measured (after a reviewed, intended change)",
           parse_bool, False, flag=True),
    Option("baseline_missing", "what a measurement without a baseline does: report (default), skip or fail "
           "the test (CI: fail)", choice("report", "skip", "fail"), "report", metavar="report|skip|fail"),
    Option("max_drop", "accuracy gate: tolerated Spearman drop in points (default: 0.5)", non_negative, 0.5,
           metavar="POINTS"),
    Option("max_slowdown", "speed gate: tolerated slowdown, of the model against the yardstick and of the "
           "environment against the reference (default: 5%%)", fraction, 0.05, metavar="PCT"),
    Option("max_memory_growth", "memory gate: tolerated growth of the model's peak RSS, parameters and disk size "
           "(default: 10%%)", fraction, 0.10, metavar="PCT"),
    Option("confidence", "confidence of the gates' intervals (default: 95%%)", confidence_level, 0.95,
           metavar="PCT"),
    Option("seed", "seed of the bootstrap resampling (default: 0)", bounded_int(0, 2**32 - 1), 0, metavar="N"),
    Option("candidate", "model-upgrade acceptance: the candidate model (with --embed-incumbent)", parse_text,
           metavar="ID"),
    Option("incumbent", "model-upgrade acceptance: the model it would replace", parse_text, metavar="ID"),
    Option("markdown", "write a Markdown summary to PATH (and to $GITHUB_STEP_SUMMARY when set)", parse_text,
           metavar="PATH", path=True),
    Option("tradeoff", "write the trade-off report to DIR: accuracy vs latency plot with memory as marker "
           "size and the Pareto front (tradeoff.png, tradeoff.html) and its table (tradeoff.json)", parse_text,
           metavar="DIR", path=True),
    Option("cache", "reuse STS embeddings from pytest's cache dir when model files, device, batch size, "
           "library versions and sentences are all unchanged: on (default) or off", parse_bool, True,
           metavar="on|off"),
    Option("trust_remote_code", "allow models that ship their own Python code (off by default)",
           parse_bool, False, flag=True),
    Option("prompts", "prompts by MTEB key (STS, STSBenchmark, query, document, Retrieval-query ...), replacing "
           "the model's own: a JSON object or KEY=TEXT;KEY=TEXT, or none", _prompts, metavar="PROMPTS"),
    Option("price_per_hour", "USD per hour of the machine: adds the encode cost per million tokens",
           positive_number, metavar="USD"),
    Option("select", "name the most accurate target meeting every limit: METRIC<=VALUE or METRIC>=VALUE, "
           "comma-separated (p95_ms, p50_ms, peak_mb, private_mb, params, spearman, tokens_per_s, usd_per_mtok ...)",
           _limits, metavar="LIMITS"),
    Option("sts_tasks", "MTEB STS tasks by name (STSBenchmark, STS12-16, SICK-R, BIOSSES, STS17[:en-en], "
           "STS22[:en]): sts_dataset is parametrized over them instead of the splits; with --embed-sts-path, a "
           "folder holding one file per task (STS13.csv ...)", task_list(sts_only=True), metavar="TASK[,TASK...]"),
    Option("retrieval_path", "a retrieval set in BEIR format: a folder with corpus.jsonl, queries.jsonl and "
           "qrels/<split>.tsv, or hub:ORG/NAME (read through datasets)", parse_text, metavar="PATH|hub:ID",
           env="EMBEDEVAL_RETRIEVAL_PATH"),
    Option("retrieval_split", "the qrels split of the retrieval set (default: test)", _one_split, "test",
           metavar="SPLIT"),
    Option("incumbent_env", "stack-upgrade acceptance: the Python interpreter of the environment before the "
           "upgrade; each model of the run is measured in fresh processes of it and of this one, side by side",
           parse_text, metavar="PYTHON"),
    Option("incumbent_processes", "stack-upgrade acceptance: pairs of fresh processes, one per environment, taking turns (default: 5)",
           bounded_int(2, 1000), 5, metavar="N"),
    Option("incumbent_timeout", "stack-upgrade acceptance: seconds one process of either environment may take "
           "(default: 600)", positive_number, 600.0, metavar="S"),
    Option("tasks", "MTEB tasks of any kind (Banking77Classification, SIB200ClusteringS2S.eng_Latn, STS13 ...) or your "
           "task folders (<name>/task.json): <kind>_task is parametrized over them", task_list(False), metavar="TASK,..."),
    Option("task_path", "a folder of one subfolder per task (Banking77Classification/train.csv, test.csv ...); "
           "else from the hub at MTEB's revisions", parse_text, metavar="PATH", path=True, env="EMBEDEVAL_TASK_PATH"),
)


class Settings(NamedTuple):
    """Resolved option values; built once per session by :func:`read_settings`."""

    models: tuple[str, ...] | None
    devices: tuple[str, ...]
    dtypes: tuple[str, ...]
    backends: tuple[str, ...]
    sts_path: Path | None
    sts_splits: tuple[str, ...]
    batch_size: int
    report: Path | None
    latency_rounds: int
    latency_warmup: int
    max_p95_ms: dict[str, float] | None
    max_peak_mb: dict[str, float] | None
    min_spearman: dict[str, float] | None
    baseline_dir: Path | None
    baseline_save: bool
    baseline_update: bool
    baseline_missing: str
    max_drop: float
    max_slowdown: float
    max_memory_growth: float
    confidence: float
    seed: int
    candidate: str | None
    incumbent: str | None
    markdown: Path | None
    tradeoff: Path | None
    cache: bool
    trust_remote_code: bool
    prompts: dict[str, str] | None
    price_per_hour: float | None
    select: tuple[Any, ...] | None  # report.selection.Limit
    # where each value came from, for error messages: {"models": "--embed-models=...", ...}
    sources: dict[str, str]
    # the folder relative paths in each value are taken from (invocation dir or rootdir)
    bases: dict[str, Path]
    sts_tasks: tuple[str, ...] | None = None
    retrieval_path: str | None = None  # a folder (relative to bases["retrieval_path"]) or hub:ID
    retrieval_split: str = "test"
    incumbent_env: str | None = None  # an interpreter: a path (absolute by now) or a name on PATH
    incumbent_processes: int = 5
    incumbent_timeout: float = 600.0
    tasks: tuple[str, ...] | None = None  # MTEB task labels (--embed-tasks)
    task_path: Path | None = None


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("embedeval", "embedding model evaluation (pytest-embedeval)")
    for option in OPTIONS:
        dest = option.ini
        if option.flag:
            group.addoption(option.cli, action="store_const", const="true", default=None,
                            dest=dest, help=option.help)
        else:
            group.addoption(option.cli, default=None, dest=dest, metavar=option.metavar, help=option.help)
        parser.addini(option.ini, help=option.help.replace("%%", "%"), type="string", default="")


def _raw_value(config: pytest.Config, option: Option) -> tuple[str, str, Path] | None:
    """The raw text of an option, where it came from, and the base for relative paths."""
    invocation = config.invocation_params.dir
    cli = config.getoption(option.ini)
    if cli is not None:
        return cli, f"{option.cli}={cli}" if not option.flag else option.cli, invocation
    ini = config.getini(option.ini)
    if ini:
        where = f"{option.ini} in {config.inipath}" if config.inipath else option.ini
        return ini, where, config.rootpath
    if option.env and os.environ.get(option.env):
        return os.environ[option.env], f"${option.env}", invocation
    return None


def read_settings(config: pytest.Config) -> Settings:
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    bases: dict[str, Path] = {}
    for option in OPTIONS:
        found = _raw_value(config, option)
        if found is None:
            values[option.name] = option.default
            continue
        raw, where, base = found
        try:
            value = option.parse(raw)
        except ValueError as exc:
            raise pytest.UsageError(f"{where}: {exc}") from None
        if option.path:
            value = (base / Path(value).expanduser()).resolve()
        values[option.name] = value
        sources[option.name] = where
        bases[option.name] = base
    python = values["incumbent_env"]
    if python is not None and ("/" in python or os.sep in python):  # a path, relative to where it was given
        values["incumbent_env"] = os.path.abspath(bases["incumbent_env"] / Path(python).expanduser())
    return Settings(**values, sources=sources, bases=bases)
