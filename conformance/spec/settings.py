"""Example budgets for the hook-order properties, deferring to a loaded hypothesis profile.

In a clause session the harness loads a profile (``trainspec-certify``: derandomized, no deadline,
no database) before clause modules are imported. A property then must not override the profile's
``derandomize`` / ``max_examples``; it may only scale the profile's example count, because one
property is cheaper or dearer than the average clause. Outside a profile (e.g. ``tests/spec`` run
with plain pytest) we fall back to the same certification-like defaults, with ``fallback``
examples.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings

DEFAULT_PROFILE = "default"
_SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large]


def profile_loaded() -> bool:
    """Whether a hypothesis profile other than hypothesis's own default is in force."""
    return settings.get_current_profile_name() != DEFAULT_PROFILE


def property_settings(*, scale: float = 1.0, fallback: int = 40, **extra: Any) -> settings:
    """``@settings`` for a hook-order property.

    Under a loaded profile: the profile's values, with ``max_examples`` multiplied by ``scale``.
    Without one: ``derandomize=True``, no deadline, no database and ``fallback`` examples.
    ``extra`` is for what a property truly needs (e.g. more ``suppress_health_check``).
    """
    if profile_loaded():
        examples = max(1, int(settings().max_examples * scale))
        return settings(max_examples=examples, **extra)
    return settings(
        derandomize=True,
        database=None,
        deadline=None,
        max_examples=fallback,
        suppress_health_check=_SLOW,
        **extra,
    )
