"""Gathering clause results in the process that reports them, and writing the certificate.

Without xdist that is the only pytest process. With xdist it is the controller: workers collect
and run the tests; each test's per-phase outcome travels on its report (``report.trainspec``), a
crashed worker's test arrives as a plain failed report (``errored``), and each worker sends its
catalogue of collected clause tests (parameters, declared deviations) as ``workeroutput`` when it
finishes. A crashed worker's catalogue is lost, but xdist replaces the worker and the replacement
collects the same tests.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

import pytest

from conformance.session import SessionState

WORKEROUTPUT_KEY = "trainspec"


def _crash_phase(report: pytest.TestReport) -> dict[str, Any]:
    gateway = getattr(getattr(report, "node", None), "gateway", None)
    where = f" (xdist worker {gateway.id})" if gateway is not None else ""
    return {
        "status": "errored",
        "message": "the test process died while running this clause (it crashed, or hung past "
        f"twice its timeout){where}",
        "when": "crash",
        "duration": 0.0,
    }


class ResultCollector:
    """A pytest plugin object, registered by :mod:`conformance.plugin` in every process."""

    def __init__(self, config: pytest.Config, state: SessionState) -> None:
        self.config = config
        self.state = state
        self.collected: set[str] = set()  # xdist controller: node IDs the workers collected

    @property
    def is_worker(self) -> bool:
        return hasattr(self.config, "workerinput")

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.state.started = time.time()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.is_worker:
            return  # the controller records what workers report
        phase = getattr(report, "trainspec", None)
        if phase is None and report.when == "???":  # xdist: the worker died during this test
            phase = _crash_phase(report)
        if phase is not None:
            self.state.results.setdefault(report.nodeid, []).append(phase)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self.collected.update(ids)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        output = getattr(node, "workeroutput", None) or {}
        if WORKEROUTPUT_KEY in output:
            self.state.merge_catalogue(output[WORKEROUTPUT_KEY])

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.is_worker:
            self.config.workeroutput[WORKEROUTPUT_KEY] = self.state.catalogue()  # type: ignore[attr-defined]
            return
        if self.config.option.collectonly:
            return  # nothing ran: a certificate would call every clause errored ("no result")
        path = self.config.getoption("trainspec_json")
        if self.state.target is None or not (path or self.state.cells or self.state.results):
            return
        from conformance import certificate

        self._adopt_orphans(session)
        self.state.certificate = self.build()
        if path:
            certificate.write(self.state.certificate, path)

    def _adopt_orphans(self, session: pytest.Session) -> None:
        """Catalogue entries for tests whose worker died before sending its catalogue (xdist
        gave up replacing crashed workers): found from the node ID. Tests that never ran then
        show as errored ("no result"), so an interrupted certificate cannot look complete."""
        from conformance.nodeids import clause_for_nodeid

        for nodeid in sorted(set(self.state.results) | self.collected):
            if nodeid in self.state.cells:
                continue
            found = clause_for_nodeid(nodeid, session.config.rootpath)
            if found is None:
                continue
            info, param_id = found
            self.state.cells[nodeid] = {
                "clause": info.id,
                "params": {},
                "param_id": param_id,
                "deviation": None,
            }
            self.state.clauses.setdefault(info.id, info.as_dict())

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.state.certificate is None or self.config.getoption("trainspec_no_summary"):
            return
        from conformance.report import render_text

        terminalreporter.section("trainspec certificate")
        for line in render_text(self.state.certificate).splitlines():
            terminalreporter.write_line(line)

    def build(self) -> dict[str, Any]:
        from conformance import SUITE_VERSION, certificate

        state, config = self.state, self.config
        target = state.target
        assert target is not None
        declared = target.declaration
        deviations = state.deviations
        seed = config.getoption("hypothesis_seed", None)
        return certificate.build(
            target={
                "name": target.name,
                "spec": target.spec,
                "version": target.version,
                "profile": declared.profile,
                "declared": {
                    "devices": list(declared.devices) if declared.devices else None,
                    "precisions": list(declared.precisions) if declared.precisions else None,
                    "strategies": list(declared.strategies) if declared.strategies else None,
                },
            },
            environment=certificate.environment(),
            hypothesis={**state.hypothesis, "seed": None if seed is None else str(seed)},
            selection={
                "prefixes": state.prefixes,
                "unmatched_prefixes": state.unmatched,
                "timeout_s": config.getoption("trainspec_timeout"),
            },
            catalogue=state.catalogue(),
            results=state.results,
            deviations_file={
                "path": str(deviations.path) if deviations.path else None,
                "entries": len(deviations.entries),
                "problems": state.problems,
            },
            duration_s=time.time() - state.started,
            suite_version=SUITE_VERSION,
            started_at=datetime.fromtimestamp(state.started, tz=timezone.utc).isoformat(),
        )
