"""Fixtures the plugin offers to clause tests (exposed through :mod:`conformance.plugin`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conformance.session import prepare
from conformance.target import Target


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Target:
    """The target under certification."""
    return prepare(pytestconfig)


@pytest.fixture
def make_trainer(target: Target, tmp_path: Path) -> Callable[..., Any]:
    """Build the target's ``Trainer`` with quiet defaults rooted in this test's ``tmp_path``."""

    def build(**flags: Any) -> Any:
        return target.trainer(tmp_path, **flags)

    return build


@pytest.fixture(scope="session")
def make_tmp_dir(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """Session-scoped: each call returns a new empty directory (safe inside ``@given`` tests,
    where function-scoped fixtures like ``tmp_path`` would be shared by all examples)."""

    def new(prefix: str = "clause") -> Path:
        return tmp_path_factory.mktemp(prefix, numbered=True)

    return new


@pytest.fixture(scope="session")
def trainer_factory(target: Target, make_tmp_dir: Callable[[str], Path]) -> Callable[..., Any]:
    """Session-scoped ``make_trainer`` for ``@given`` tests: each call gets a fresh root dir."""

    def build(**flags: Any) -> Any:
        return target.trainer(make_tmp_dir("trainer"), **flags)

    return build


@pytest.fixture
def hook_trace_golden(pytestconfig: pytest.Config) -> Callable[..., list[str]]:
    """Compare your module's hook trace with a golden file (``--trainspec-update-golden``
    rewrites it). Call it as ``hook_trace_golden(model, trainer_kwargs, path, callbacks=...,
    target=..., stage=...)``; the target defaults to ``--trainspec-target`` /
    ``$TRAINSPEC_TARGET`` / ``reference``. See :mod:`conformance.golden`."""
    from conformance.golden import assert_hook_trace_matches

    update = bool(pytestconfig.getoption("trainspec_update_golden"))
    default_target = pytestconfig.getoption("trainspec_target")

    def check(
        model: Any,
        trainer_kwargs: dict[str, Any],
        golden_path: str | Path,
        **options: Any,
    ) -> list[str]:
        __tracebackhide__ = True  # a mismatch shows the caller's line and the diff only
        options.setdefault("target", default_target)
        return assert_hook_trace_matches(model, trainer_kwargs, golden_path, update, **options)

    return check
