"""The ``BROKEN`` declaration of a broken fixture is read strictly (fixtures/broken/__init__.py)."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest

from fixtures.broken import BrokenFixtureError, load

VALID: dict[str, Any] = {
    "breaks": "zero_grad never runs",
    "must_fail": ["OPT-001"],
    "clauses": ["OPT"],
}


@pytest.fixture
def fake_module() -> Iterator[Any]:
    """Register a throwaway module whose BROKEN dict each test sets."""
    name = "fixtures_test_fake_broken"
    module = types.ModuleType(name)
    sys.modules[name] = module
    yield module
    del sys.modules[name]


def test_a_valid_declaration_is_read(fake_module: Any) -> None:
    fake_module.BROKEN = {**VALID, "requires": ["cuda"]}
    fixture = load(fake_module.__name__)
    assert fixture.must_fail == ("OPT-001",)
    assert fixture.clauses == ("OPT",)
    assert fixture.requires == ("cuda",)


def test_requires_defaults_to_nothing(fake_module: Any) -> None:
    fake_module.BROKEN = dict(VALID)
    assert load(fake_module.__name__).requires == ()


@pytest.mark.parametrize(
    "change, complaint",
    [
        ({"breaks": ""}, "breaks"),
        ({"must_fail": []}, "must_fail"),
        ({"clauses": "OPT"}, "clauses"),
        ({"requires": "cuda"}, "requires"),
        ({"requires": ["tpu-v9"]}, "requires"),
    ],
)
def test_malformed_declarations_are_refused(
    fake_module: Any, change: dict[str, Any], complaint: str
) -> None:
    fake_module.BROKEN = {**VALID, **change}
    with pytest.raises(BrokenFixtureError, match=complaint):
        load(fake_module.__name__)


def test_a_module_without_broken_is_refused(fake_module: Any) -> None:
    with pytest.raises(BrokenFixtureError, match="BROKEN dict"):
        load(fake_module.__name__)
