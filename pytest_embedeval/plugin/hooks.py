"""The plugin object: its methods are pytest's hooks, wiring options, fixtures, measurements and outputs.

Registered in ``pytest_configure`` only when the run measures or reports
something (as junitxml registers its object only for ``--junitxml``), so it
always has a run and its state is its own, not module globals.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pytest_embedeval.errors import EmbedEvalError
from pytest_embedeval.plugin import budget, xdist
from pytest_embedeval.plugin.run import EmbedRun
from pytest_embedeval.plugin.state import ITEM_STATE, ItemState


class EmbedEvalPlugin:
    def __init__(self, config: pytest.Config, run: EmbedRun) -> None:
        self.config = config
        self.settings = run.settings
        self.run = run
        self.notes: list[str] = []  # "report written to ..." lines for the terminal summary

    # -- collection ---------------------------------------------------------------------------------

    def pytest_report_header(self) -> list[str]:
        data = self.settings.sts_path or "hub:sentence-transformers/stsb"
        models = ", ".join(t.id for t in self.run.targets) or "none"
        if self.run.acceptance_targets:
            candidate, incumbent = self.run.acceptance_targets
            models += f"; acceptance {candidate.id} vs {incumbent.id}"
        tasks = f"; MTEB tasks {', '.join(self.settings.tasks)}" if self.settings.tasks else ""
        return [f"embedeval: models {models}; STS data {data}{tasks}"]

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        targets = self.run.targets
        if "embed_target" in metafunc.fixturenames and not _user_parametrizes(metafunc, "embed_target"):
            metafunc.parametrize("embed_target", xdist.group_marks(self.config, targets), ids=[t.id for t in targets],
                                 indirect=True)
        if "sts_dataset" in metafunc.fixturenames and not _user_parametrizes(metafunc, "sts_dataset"):
            splits = self.settings.sts_tasks or self.settings.sts_splits  # MTEB tasks by name replace the splits
            metafunc.parametrize("sts_dataset", splits, ids=list(splits), indirect=True)

    def pytest_collection_modifyitems(self, session: pytest.Session, items: list[pytest.Item]) -> None:
        """``--embed-candidate/--embed-incumbent`` add the one acceptance test; ``--embed-incumbent-env`` one
        stack-upgrade test per model."""
        from pytest_embedeval.plugin.items import AcceptanceItem, StackAcceptanceItem

        added = []
        if self.run.acceptance_targets is not None:
            candidate, incumbent = self.run.acceptance_targets
            name = f"embed-acceptance[{candidate.label}-vs-{incumbent.label}]"
            added.append(AcceptanceItem.from_parent(session, name=name, embed_run=self.run))
        if self.settings.incumbent_env:
            added += [StackAcceptanceItem.from_parent(session, name=f"embed-stack-acceptance[{target.id}]",
                                                      embed_run=self.run, target=target) for target in self.run.targets]
        for item in added:
            items.append(item)
            # reported like any collected item, so "collected N items" (and xdist's count) includes it
            self.config.hook.pytest_collectreport(report=pytest.CollectReport(item.nodeid, "passed", None, [item]))

    # -- running a test -----------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """A fresh state for the test, before its fixtures: embed_eval reports into it."""
        item.stash[ITEM_STATE] = ItemState(budget.tolerance_of(item, self.run.recording.default_tolerance))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Any:
        """After the test body: its embed_budget, then the baseline gates of everything it measured."""
        state = item.stash.get(ITEM_STATE, None)
        failures: list[str] = []
        try:
            result = yield
            failures += budget.budget_failures(item)  # only after a passing body
            if failures:
                self.run.recording.results.budget_misses += [f"{item.nodeid}: {line.strip()}" for line in failures[1:]]
        finally:
            if state is not None:  # after the budget, so figures measured only by the marker are in JUnit too
                item.user_properties.extend(state.properties())
        if state is None:
            return result
        gate_failures, skip = state.outcome(self.settings.baseline_missing)
        failures += gate_failures
        if failures:  # the messages say it all; the hook's own traceback would only distract
            pytest.fail("\n".join(failures), pytrace=False)
        if skip:
            pytest.skip(skip)
        return result

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        """Show an EmbedEvalError as its message alone: it names the file, option or model."""
        report = yield
        if call.excinfo is not None and isinstance(call.excinfo.value, EmbedEvalError):
            report.longrepr = f"{type(call.excinfo.value).__name__}: {call.excinfo.value}"
        return report

    # -- the end ------------------------------------------------------------------------------------

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Workers hand their results over; only the controller writes files."""
        run = self.run
        run.recording.finish_saves()  # where the models are loaded: on the worker under xdist
        run.recording.results.add_loads(xdist.worker_id(self.config), run.resources.pool.loads)
        if xdist.is_worker(self.config):
            xdist.send(self.config, {"results": run.recording.results.message(), "pending": run.recording.pending})
            return
        lost = self.config.stash.get(xdist.LOST, [])
        if lost:  # their results never arrived: a report or baseline without them would be half of one
            errors = ["embedeval: no report or baseline written: a worker was lost", *lost]
        else:
            errors = self._write_outputs()
        if errors:
            self.notes[:0] = errors
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _write_outputs(self) -> list[str]:
        """Baselines, JSON report, Markdown summary, trade-off (controller only); the errors, if any."""
        from pytest_embedeval.core.environment import describe
        from pytest_embedeval.report.outputs import markdown_summary, write_markdown, write_report

        settings, recording = self.settings, self.run.recording
        results, errors = recording.results, []
        if recording.pending:
            try:
                self.notes += [f"embedeval baseline written: {path}" for path in recording.gatekeeper.write_pending()]
            except EmbedEvalError as exc:
                errors.append(f"embedeval: baselines not written: {exc}")
        selection = self._selection()
        if settings.report is not None:
            write_report(settings.report, results, describe(self.config.rootpath),
                         {"selection": selection} if selection is not None else None)
            self.notes.append(f"embedeval report: {settings.report}")
        targets = [settings.markdown] if settings.markdown is not None else []
        if os.environ.get("GITHUB_STEP_SUMMARY"):
            targets.append(Path(os.environ["GITHUB_STEP_SUMMARY"]))
        if targets:
            text = markdown_summary(results, settings.batch_size)
            if selection is not None:
                from pytest_embedeval.report.selection import selection_lines

                text += "\n### Pick under the budget\n\n" + "\n".join(
                    f"- {line.strip()}" for line in selection_lines(selection)) + "\n"
            for path in targets:
                write_markdown(path, text, append=path != settings.markdown)
                self.notes.append(f"embedeval markdown: {path}")
        if settings.tradeoff is not None and (results.records or results.hybrids):
            from pytest_embedeval.report.tradeoff import write_tradeoff

            picture = write_tradeoff(settings.tradeoff, results.records, settings.batch_size, results.hybrids)
            self.notes.append(f"embedeval trade-off: {picture} (and tradeoff.html, tradeoff.json)")
        return errors

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if xdist.is_worker(self.config):
            return
        from pytest_embedeval.report.outputs import summary_lines

        lines = summary_lines(self.run.recording.results, self.settings.batch_size)
        selection = self._selection()
        if selection is not None:
            from pytest_embedeval.report.selection import selection_lines

            lines += ["", *selection_lines(selection)]
        lines += self.notes
        if lines:
            terminalreporter.write_sep("=", "embedding evaluation")
            for line in lines:
                terminalreporter.write_line(line)

    def _selection(self) -> dict[str, Any] | None:
        """--embed-select: the most accurate target meeting every limit, from what the run measured."""
        if self.settings.select is None:
            return None
        from pytest_embedeval.report.selection import select

        return select(self.run.recording.results.records, self.settings.batch_size, self.settings.select)

    def pytest_unconfigure(self) -> None:
        self.run.close()


def _user_parametrizes(metafunc: pytest.Metafunc, name: str) -> bool:
    for marker in metafunc.definition.iter_markers("parametrize"):
        names = marker.args[0] if marker.args else marker.kwargs.get("argnames", "")
        if name in ([n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)):
            return True
    return False
