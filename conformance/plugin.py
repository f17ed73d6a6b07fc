"""The trainspec pytest plugin (registered through the ``pytest11`` entry point).

In a session that runs no clause it only adds options, fixtures and markers, and imports nothing
heavy. A *clause session* (a trainspec option given, ``conformance.clauses`` among the arguments
or ``--pyargs conformance``; or clauses found at collection) additionally:

- loads the target once, up front: a broken target is one clear error, not hundreds of failures;
- reads the deviations file and marks each declared clause test ``xfail(strict=False)``, so pytest's
  own outcomes, exit code and JUnit follow the declarations;
- keeps only the clauses selected with ``--trainspec-clauses``;
- gives every clause test a timeout (pytest-timeout, signal method) and restores process-global
  state after it (:mod:`conformance.isolation`);
- loads the ``trainspec-certify`` hypothesis profile (or ``--trainspec-hypothesis-profile``);
- turns pytest's reports into clause statuses (:mod:`conformance.outcomes`), prints a summary per
  clause family and writes the JSON certificate (``--trainspec-json``).

Under pytest-xdist, workers collect and run; the controller gathers reports (a crashed worker's
test arrives as a failed report without trainspec data: ``errored``) and each worker's catalogue
of collected clause tests (sent as ``workeroutput`` when it finishes).
"""

from __future__ import annotations

import signal
from collections.abc import Generator, Iterator
from typing import Any

import pytest

from conformance import certificate
from conformance.collector import ResultCollector
from conformance.fixtures import (
    hook_trace_golden,
    make_tmp_dir,
    make_trainer,
    target,
    trainer_factory,
)
from conformance.registry import REGISTRY, clause_of
from conformance.selection import parse_prefixes, selected
from conformance.session import SessionState, activate_hypothesis_profile, prepare, state_of
from conformance.target import ENV_VAR, Target
from conformance.timeouts import (
    pytest_runtest_protocol,
    pytest_sessionfinish,
    pytest_timeout_set_timer,
    pytest_unconfigure,
)

DEFAULT_TIMEOUT_S = 120.0
# The fixtures clause tests use; importing them here is what makes pytest offer them.
FIXTURES = (target, make_trainer, make_tmp_dir, trainer_factory, hook_trace_golden)
# Hook implementations of other modules count as this plugin's when they are its attributes.
HOOKS = (
    pytest_runtest_protocol,
    pytest_timeout_set_timer,
    pytest_sessionfinish,
    pytest_unconfigure,
)
_PHASES = pytest.StashKey[dict[str, dict[str, Any]]]()
_RESTORED = pytest.StashKey[list[str]]()


# --------------------------------------------------------------------------------------- options


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("trainspec", "trainspec conformance suite")
    group.addoption(
        "--trainspec-target",
        default=None,
        help=f"target module to certify, 'module' or 'module:attr' (default: ${ENV_VAR} or "
        "'reference')",
    )
    group.addoption(
        "--trainspec-clauses",
        default=None,
        metavar="PREFIX[,PREFIX...]",
        help="run only the clauses whose ID starts with one of these dash-separated prefixes "
        "(e.g. HOOK-FIT,OPT-002)",
    )
    group.addoption(
        "--trainspec-deviations",
        default=None,
        metavar="PATH",
        help="deviations file (TOML) to use instead of the target's own ('none': no file)",
    )
    group.addoption(
        "--trainspec-timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"per-clause timeout; a timeout counts as errored (default {DEFAULT_TIMEOUT_S:g}, "
        "0 disables)",
    )
    group.addoption(
        "--trainspec-hypothesis-profile",
        default=None,
        metavar="NAME",
        help="hypothesis profile for clauses: trainspec-certify (default) or trainspec-explore",
    )
    group.addoption(
        "--trainspec-json",
        default=None,
        metavar="PATH",
        help="write the JSON certificate of this run to PATH",
    )
    group.addoption(
        "--trainspec-no-summary",
        action="store_true",
        default=False,
        help="do not print the per-family clause summary (trainspec certify prints its own)",
    )
    group.addoption(
        "--trainspec-update-golden",
        action="store_true",
        default=False,
        help="rewrite golden hook-trace files instead of comparing against them",
    )


_EXPLICIT_OPTIONS = (
    "trainspec_target",
    "trainspec_clauses",
    "trainspec_deviations",
    "trainspec_hypothesis_profile",
    "trainspec_json",
)


def _is_clause_session(config: pytest.Config) -> bool:
    """A trainspec option, or the suite among the arguments. ``$TRAINSPEC_TARGET`` alone is not
    enough: exported for certification, it must not reach a project's own pytest runs."""
    if any(config.getoption(name) for name in _EXPLICIT_OPTIONS):
        return True
    if config.getoption("pyargs", False) and "conformance" in config.args:
        return True  # pytest --pyargs conformance
    return any("conformance" in arg and "clauses" in arg for arg in config.args)


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


# ------------------------------------------------------------------------------- configuration


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "trainspec_clause(info): the test encodes this conformance clause"
    )
    # Registered (not loaded) in every session, before hypothesis' own plugin configures, so that
    # `--hypothesis-profile trainspec-explore` works for any test.
    from conformance import hypothesis_profiles

    hypothesis_profiles.register()
    if (config.getoption("trainspec_timeout") or 0) < 0:
        # pytest-timeout ignores it, but the watchdog would end every clause after 2 * t + 5 s.
        raise pytest.UsageError(
            "trainspec: --trainspec-timeout must be 0 (no timeout) or more, not "
            f"{config.getoption('trainspec_timeout'):g}"
        )
    path = config.getoption("trainspec_json")
    problem = path and not _is_worker(config) and certificate.output_problem(path)
    if problem:
        raise pytest.UsageError(f"trainspec: --trainspec-json {path} {problem}")
    state = state_of(config)
    state.prefixes = _prefixes(config)
    config.pluginmanager.register(ResultCollector(config, state), "trainspec-collector")
    if _is_clause_session(config):
        activate_hypothesis_profile(config)
        prepare(config)


def _prefixes(config: pytest.Config) -> list[str]:
    try:
        return parse_prefixes(config.getoption("trainspec_clauses"))
    except ValueError as exc:
        raise pytest.UsageError(f"trainspec: --trainspec-clauses: {exc}") from exc


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    state = state_of(config)
    target = state.target
    if target is None:
        return None
    import torch

    from conformance.target import device_counts

    devices = ", ".join(f"{kind}×{n}" for kind, n in device_counts().items() if n)
    deviations = state.deviations
    declared = (
        f"{deviations.path} ({len(deviations.entries)} entries)" if deviations.path else "none"
    )
    return [
        f"trainspec target: {target.name} {target.version} ({target.spec}), "
        f"profile {target.declaration.profile}",
        f"trainspec: torch {torch.__version__}; devices found: {devices}; "
        f"hypothesis profile: {state.hypothesis.get('profile')}; deviations: {declared}",
    ]


# ---------------------------------------------------------------------------------- collection


def _param_text(value: Any) -> str:
    if value is None or isinstance(value, str | int | float | bool):
        return str(value)
    return getattr(value, "__name__", None) or type(value).__name__


def _cell_of(item: pytest.Item) -> tuple[dict[str, str], str | None]:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return {}, None
    return {name: _param_text(v) for name, v in callspec.params.items()}, callspec.id


def _select(config: pytest.Config, state: SessionState, items: list[pytest.Item]) -> None:
    """Deselect the clause tests that ``--trainspec-clauses`` leaves out (other tests stay)."""
    if not state.prefixes:
        return
    keep, dropped = [], []
    for item in items:
        info = clause_of(item)
        (keep if info is None or selected(info.id, state.prefixes) else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
    state.unmatched = [p for p in state.prefixes if not any(selected(cid, [p]) for cid in REGISTRY)]


def _declare(item: pytest.Item, state: SessionState, target: Target) -> None:
    """Record a selected clause test in the catalogue; mark it xfail if its deviation is declared,
    give it the clause timeout and its JUnit properties."""
    import torch

    info = clause_of(item)
    assert info is not None
    params, param_id = _cell_of(item)
    declared = state.deviations.match(
        info.id, params, torch_version=torch.__version__, target_version=target.version
    )
    if declared is not None:
        reason = f"declared deviation: {declared.reason}"
        item.add_marker(pytest.mark.xfail(reason=reason, strict=False))
    timeout = item.config.getoption("trainspec_timeout")
    if timeout and item.get_closest_marker("timeout") is None:
        method = "signal" if hasattr(signal, "SIGALRM") else "thread"
        item.add_marker(pytest.mark.timeout(timeout, method=method))
    item.user_properties += [
        ("trainspec_clause", info.id),
        ("trainspec_level", info.level),
        ("trainspec_family", info.family),
    ]
    state.cells[item.nodeid] = {
        "clause": info.id,
        "params": params,
        "param_id": param_id,
        "deviation": {"reason": declared.reason, "link": declared.link} if declared else None,
    }
    state.clauses[info.id] = info.as_dict()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    collected = [item for item in items if clause_of(item) is not None]
    if not collected:
        return
    state = state_of(config)
    target = prepare(config)
    # Deviation conditions are checked against every collected test, selected or not, so that a
    # narrow --trainspec-clauses run does not report other clauses' parameters as unknown.
    values_of: dict[str, dict[str, set[str]]] = {}
    for item in collected:
        info = clause_of(item)
        assert info is not None
        for name, value in _cell_of(item)[0].items():
            values_of.setdefault(info.id, {}).setdefault(name, set()).add(value)
    _select(config, state, items)
    for item in items:
        if clause_of(item) is not None:
            _declare(item, state, target)
    if state.deviations.entries:
        _complete_registry(collected)
        state.problems = state.deviations.problems(
            REGISTRY, values_of, target_version=target.version
        )


def _complete_registry(items: list[pytest.Item]) -> None:
    """Import every clause module of the collected clauses' packages, so that a run of a few
    files does not report the deviations declared for the others' clauses as unknown."""
    from conformance.catalogue import load_suite

    modules = {getattr(item, "module", None) for item in items}
    packages = {m.__name__.rpartition(".")[0] for m in modules if m is not None}
    for package in sorted(p for p in packages if p):
        load_suite(package, strict=False)


# ----------------------------------------------------------------------------------- isolation


@pytest.fixture(autouse=True)
def _trainspec_isolation(request: pytest.FixtureRequest) -> Iterator[None]:
    """Restore process-global state after each clause (a no-op for other tests)."""
    if clause_of(request.node) is None:
        yield
        return
    from conformance.isolation import GlobalState

    snapshot = GlobalState.capture()
    try:
        yield
    finally:
        request.node.stash[_RESTORED] = snapshot.restore()


# ------------------------------------------------------------------------------------- results


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator:
    outcome = yield
    info = clause_of(item)
    if info is None:
        return
    from conformance import outcomes

    report: pytest.TestReport = outcome.get_result()
    phase = outcomes.phase_outcome(
        call.when,
        report.outcome,
        hasattr(report, "wasxfail"),
        call.excinfo.value if call.excinfo is not None else None,
        report.longrepr,
    )
    phase["when"] = call.when
    phase["duration"] = report.duration
    if call.when == "teardown":
        phase["restored"] = item.stash.get(_RESTORED, [])
    phases = item.stash.setdefault(_PHASES, {})
    phases[call.when] = phase
    report.trainspec = phase  # type: ignore[attr-defined]  # travels to the xdist controller
    if call.when == "teardown":
        ordered = [phases[w] for w in ("setup", "call", "teardown") if w in phases]
        final = outcomes.item_outcome(ordered)
        report.user_properties.append(("trainspec_status", final["status"]))
        if final.get("message"):
            report.user_properties.append(("trainspec_message", final["message"]))
