"""Command-line options, their ini twins and environment variables, in one table.

Every option is declared once in :data:`OPTIONS`; :func:`add_options` registers
``--embed-NAME`` (default ``None``) and the ini key ``embed_NAME`` from it, and
:func:`raw_value` finds a value as CLI, then ini, then environment.  Declaring
options as data keeps the CLI and the ini from drifting apart (a trap
pytest-memray fell into).  Every pytest run in the environment imports this
module, so it holds the table only: the parsers, the defaults and the checks
live in :mod:`~pytest_embedeval.plugin.settings`, imported when a run sets an
option.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


# A plain class, not a NamedTuple or dataclass: every pytest run in the environment builds this table,
# and those generate and compile code when the class is made (docs/benchmarks.md#what-an-unused-install-costs)
class Option:
    """One setting: ``--embed-<name>`` on the CLI, ``embed_<name>`` in the ini, maybe an environment variable.

    Its parser and default are those of the :class:`~pytest_embedeval.plugin.settings.Settings` field of the
    same name."""

    __slots__ = ("name", "help", "metavar", "flag", "path", "env")

    def __init__(self, name: str, help: str, metavar: str = "VALUE", flag: bool = False, path: bool = False,
                 env: str | None = None) -> None:
        self.name, self.help, self.metavar = name, help, metavar
        self.flag = flag  # a CLI switch without a value; the ini takes true/false
        self.path = path  # resolved against the invocation dir (CLI, env) or rootdir (ini)
        self.env = env

    @property
    def cli(self) -> str:
        return "--embed-" + self.name.replace("_", "-")

    @property
    def ini(self) -> str:
        return "embed_" + self.name


OPTIONS: tuple[Option, ...] = (
    # what is evaluated
    Option("models", "models to evaluate: aliases (minilm, mpnet), hub ids org/name, or local folders",
           metavar="ID[,ID...]"),
    Option("devices", "devices to run on: cpu, cuda, cuda:N, mps, auto (default: cpu); "
           "a device that is not present skips its tests", metavar="DEV[,DEV...]"),
    Option("dtypes", "precisions to evaluate: fp32 (default), fp16, bf16, int8 (dynamic quantization); "
           "unsupported combinations skip", metavar="T[,T...]"),
    Option("backends", "backends to evaluate: torch (default), onnx (ONNX Runtime, pip install "
           "pytest-embedeval[onnx])", metavar="B[,B...]"),
    Option("batch_size", "encode batch size (default: 32, as MTEB and sentence-transformers)", metavar="N"),
    Option("prompts", "prompts by MTEB key (STS, STSBenchmark, query, document, Retrieval-query ...), replacing "
           "the model's own: a JSON object or KEY=TEXT;KEY=TEXT, or none", metavar="PROMPTS"),
    Option("trust_remote_code", "allow models that ship their own Python code (off by default)", flag=True),
    # data and tasks
    Option("sts_path", "local STS data: a folder of STS-B files (sts-dev.csv ...) or a "
           "CSV/TSV/JSONL file with sentence1,sentence2,score (default: the hub's "
           "sentence-transformers/stsb)", metavar="PATH", path=True, env="EMBEDEVAL_STS_PATH"),
    Option("sts_splits", "STS splits to evaluate: sts_dataset is parametrized over them and "
           "embed_eval.sts() uses the first (default: dev)", metavar="SPLIT[,SPLIT...]"),
    Option("sts_tasks", "MTEB STS tasks by name (STSBenchmark, STS12-16, SICK-R, BIOSSES, STS17[:en-en], "
           "STS22[:en]): sts_dataset is parametrized over them instead of the splits; with --embed-sts-path, a "
           "folder holding one file per task (STS13.csv ...)", metavar="TASK[,TASK...]"),
    Option("tasks", "MTEB tasks of any kind (Banking77Classification, SIB200ClusteringS2S.eng_Latn, STS13 ...) or your "
           "task folders (<name>/task.json): <kind>_task is parametrized over them", metavar="TASK,..."),
    Option("task_path", "a folder of one subfolder per task (Banking77Classification/train.csv, test.csv ...); "
           "else from the hub at MTEB's revisions", metavar="PATH", path=True, env="EMBEDEVAL_TASK_PATH"),
    Option("retrieval_path", "a retrieval set in BEIR format: a folder with corpus.jsonl, queries.jsonl and "
           "qrels/<split>.tsv, or hub:ORG/NAME (read through datasets)",
           metavar="PATH|hub:ID", env="EMBEDEVAL_RETRIEVAL_PATH"),
    Option("retrieval_split", "the qrels split of the retrieval set (default: test)", metavar="SPLIT"),
    Option("cache", "reuse STS embeddings from pytest's cache dir when model files, device, batch size, "
           "library versions and sentences are all unchanged: on (default) or off", metavar="on|off"),
    # latency
    Option("latency_rounds", "timed rounds per latency measurement (default: 20)", metavar="N"),
    Option("latency_warmup", "untimed warm-up rounds before them (default: 2)", metavar="N"),
    # the bundled suites' budgets
    Option("max_p95_ms", "latency budget of the bundled suites: p95 ms per batch, one value or MODEL=MS,...",
           metavar="MS"),
    Option("max_peak_mb", "memory budget of the bundled suites: peak RSS MB, one value or MODEL=MB,...", metavar="MB"),
    Option("min_spearman", "accuracy floor of the bundled suites: Spearman x100, one value or MODEL=S,...",
           metavar="S"),
    # baselines and their gates
    Option("baseline_dir", "folder of reviewed baseline JSON files, one per model (default: <rootdir>/baselines)",
           metavar="PATH", path=True),
    Option("baseline_save", "write baselines for measurements that have none (existing ones are still compared)",
           flag=True),
    Option("baseline_update", "replace the baselines of everything measured (after a reviewed, intended change)",
           flag=True),
    Option("baseline_missing", "what a measurement without a baseline does: report (default), skip or fail "
           "the test (CI: fail)", metavar="report|skip|fail"),
    Option("max_drop", "accuracy gate: tolerated Spearman drop in points (default: 0.5)", metavar="POINTS"),
    Option("max_slowdown", "speed gate: tolerated slowdown, of the model against the yardstick and of the "
           "environment against the reference (default: 5%%)", metavar="PCT"),
    Option("max_memory_growth", "memory gate: tolerated growth of the model's peak RSS, parameters and disk size "
           "(default: 10%%)", metavar="PCT"),
    Option("confidence", "confidence of the gates' intervals (default: 95%%)", metavar="PCT"),
    Option("seed", "seed of the bootstrap resampling (default: 0)", metavar="N"),
    # acceptance: candidate against incumbent model, or this environment against another
    Option("candidate", "model-upgrade acceptance: the candidate model (with --embed-incumbent)", metavar="ID"),
    Option("incumbent", "model-upgrade acceptance: the model it would replace", metavar="ID"),
    Option("incumbent_env", "stack-upgrade acceptance: the Python interpreter of the environment before the "
           "upgrade; each model of the run is measured in fresh processes of it and of this one, side by side",
           metavar="PYTHON"),
    Option("incumbent_processes", "stack-upgrade acceptance: pairs of fresh processes, one per environment, "
           "taking turns (default: 5)", metavar="N"),
    Option("incumbent_timeout", "stack-upgrade acceptance: seconds one process of either environment may take "
           "(default: 600)", metavar="S"),
    # reports
    Option("report", "write a JSON report of every measurement to PATH", metavar="PATH", path=True),
    Option("markdown", "write a Markdown summary to PATH (and to $GITHUB_STEP_SUMMARY when set)",
           metavar="PATH", path=True),
    Option("tradeoff", "write the trade-off report to DIR: accuracy vs latency plot with memory as marker "
           "size and the Pareto front (tradeoff.png, tradeoff.html) and its table (tradeoff.json)",
           metavar="DIR", path=True),
    Option("price_per_hour", "USD per hour of the machine: adds the encode cost per million tokens", metavar="USD"),
    Option("select", "name the most accurate target meeting every limit: METRIC<=VALUE or METRIC>=VALUE, "
           "comma-separated (p95_ms, p50_ms, peak_mb, private_mb, params, spearman, tokens_per_s, usd_per_mtok ...)",
           metavar="LIMITS"),
)


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


def raw_value(config: pytest.Config, option: Option) -> tuple[str, str, Path] | None:
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


def given(config: pytest.Config) -> bool:
    """Whether the run sets any option (CLI, ini or environment): if not, it does not use the plugin, and
    the settings are not built (:mod:`~pytest_embedeval.plugin.settings`, imported only then)."""
    return any(raw_value(config, option) is not None for option in OPTIONS)
