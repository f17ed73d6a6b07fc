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
