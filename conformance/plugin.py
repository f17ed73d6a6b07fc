"""The trainspec pytest plugin (registered through the ``pytest11`` entry point).

It is inert in test sessions that collect no clause: it only adds options, the ``target`` and
``make_trainer`` fixtures and the ``trainspec_clause`` marker. When clauses are collected it loads
the target once (a broken target is one clear error, not hundreds of failures).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from conformance.registry import clause_of
from conformance.target import ENV_VAR, Target, TargetLoadError, load_target, resolve_spec

_TARGET_KEY = pytest.StashKey[Target]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("trainspec", "trainspec conformance suite")
    group.addoption(
        "--trainspec-target",
        default=None,
        help=f"target module to certify (default: ${ENV_VAR} or 'reference')",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "trainspec_clause(info): the test encodes this conformance clause"
    )


def _load(config: pytest.Config) -> Target:
    if _TARGET_KEY not in config.stash:
        spec = resolve_spec(config.getoption("--trainspec-target"))
        try:
            config.stash[_TARGET_KEY] = load_target(spec)
        except TargetLoadError as exc:
            raise pytest.UsageError(f"trainspec: {exc}") from exc
    return config.stash[_TARGET_KEY]


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    if any(clause_of(item) is not None for item in items):
        _load(config)


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    spec = config.getoption("--trainspec-target") or os.environ.get(ENV_VAR)
    if not spec:
        return None
    return [f"trainspec target: {spec}"]


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Target:
    """The target under certification."""
    return _load(pytestconfig)


@pytest.fixture
def make_trainer(target: Target, tmp_path: Path) -> Any:
    """Build the target's ``Trainer`` with quiet defaults rooted in this test's ``tmp_path``."""

    def build(**flags: Any) -> Any:
        return target.trainer(tmp_path, **flags)

    return build
