"""Hypothesis profiles for clause tests.

- ``trainspec-certify`` (the default in clause sessions): derandomized, so a certificate is
  reproducible and two runs of the same target draw the same configurations; no deadline and no
  slow-data health checks (a training run per example is slow by nature); a modest number of
  examples so that a whole certification stays fast; no example database (certification
  must not depend on what an earlier run found).
- ``trainspec-explore``: random and with more examples, to hunt for breaches; its failing
  examples are printed with a reproduction blob.

Clause authors: do not pass ``max_examples`` or ``derandomize`` in ``@settings`` (the profile
decides); pass only what the clause truly needs (e.g. ``suppress_health_check``). A property whose
examples cost more or less than the average clause's scales the profile's count with
:func:`property_settings`.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings

CERTIFY = "trainspec-certify"
EXPLORE = "trainspec-explore"
PROFILES = (CERTIFY, EXPLORE)

CERTIFY_EXAMPLES = 25
EXPLORE_EXAMPLES = 200
_SLOW_DATA = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]


def register() -> None:
    """Register both profiles (idempotent)."""
    settings.register_profile(
        CERTIFY,
        derandomize=True,
        database=None,
        deadline=None,
        max_examples=CERTIFY_EXAMPLES,
        suppress_health_check=_SLOW_DATA,
        print_blob=False,
    )
    settings.register_profile(
        EXPLORE,
        derandomize=False,
        database=None,
        deadline=None,
        max_examples=EXPLORE_EXAMPLES,
        suppress_health_check=_SLOW_DATA,
        print_blob=True,
    )


def activate(name: str) -> None:
    """Load profile ``name`` (one of :data:`PROFILES` or any registered hypothesis profile)."""
    register()
    settings.load_profile(name)


def active() -> dict[str, Any]:
    """The profile in force, for certificates: name, derandomize, max_examples."""
    current = settings()
    return {
        "profile": settings.get_current_profile_name(),
        "derandomize": bool(current.derandomize),
        "max_examples": int(current.max_examples),
    }


def property_settings(*, scale: float = 1.0, fallback: int = 40, **extra: Any) -> settings:
    """``@settings`` for a property, deferring to the loaded profile.

    Under a loaded profile (a clause session loads one before clause modules are imported): the
    profile's values, with ``max_examples`` multiplied by ``scale`` (at least 1). Without one
    (e.g. ``tests/spec`` run with plain pytest): the ``trainspec-certify`` values with ``fallback``
    examples. ``extra`` is for what a property truly needs (e.g. more ``suppress_health_check``).
    """
    if settings.get_current_profile_name() != "default":
        return settings(max_examples=max(1, int(settings().max_examples * scale)), **extra)
    register()
    return settings(settings.get_profile(CERTIFY), max_examples=fallback, **extra)
