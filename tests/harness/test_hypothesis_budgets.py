"""Example budgets: a property scales the loaded profile's count, or falls back to certify's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import settings

from conformance import hypothesis_profiles
from conformance.hypothesis_profiles import CERTIFY, EXPLORE, EXPLORE_EXAMPLES, property_settings


@pytest.fixture
def profile() -> Iterator[None]:
    """Start from hypothesis' own default profile; put back whatever was loaded before."""
    before = settings.get_current_profile_name()
    settings.load_profile("default")
    try:
        yield
    finally:
        settings.load_profile(before)


def test_without_a_profile_a_property_gets_the_certify_values_and_its_fallback_count(
    profile: None,
) -> None:
    chosen = property_settings(scale=3.0, fallback=7)
    assert chosen.max_examples == 7
    assert chosen.derandomize is True
    assert chosen.database is None
    assert chosen.deadline is None


def test_under_a_loaded_profile_a_property_scales_its_count(profile: None) -> None:
    hypothesis_profiles.activate(EXPLORE)
    assert property_settings(scale=0.5, fallback=7).max_examples == EXPLORE_EXAMPLES // 2
    assert property_settings(scale=0.0001).max_examples == 1  # never below one example
    assert property_settings().derandomize is False  # the loaded profile's, not certify's
    hypothesis_profiles.activate(CERTIFY)
    assert property_settings(scale=1.6).max_examples == 40  # int(25 * 1.6)
