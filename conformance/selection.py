"""Selecting clauses by ID prefix (``--trainspec-clauses`` / ``trainspec certify --clauses``).

A prefix matches whole dash-separated words of a clause ID, or a leading part of its number:
``HOOK`` selects ``HOOK-FIT-001`` and ``HOOK-EVAL-002``, ``OPT`` selects ``OPT-001`` but not
``OPTCFG-001``, ``OPT-00`` selects ``OPT-001`` … ``OPT-009``, ``OPT-002`` selects just that clause.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_PREFIX = re.compile(r"^[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*-?$")


def parse_prefixes(text: str | None) -> list[str]:
    """``"hook-fit, OPT-002"`` → ``["HOOK-FIT", "OPT-002"]``; raise ``ValueError`` if malformed."""
    if not text:
        return []
    prefixes = []
    for raw in text.split(","):
        prefix = raw.strip().upper()
        if not prefix:
            continue
        if not _PREFIX.match(prefix):
            raise ValueError(f"{raw.strip()!r} is not a clause ID prefix (e.g. HOOK-FIT, OPT-002)")
        prefixes.append(prefix.rstrip("-"))
    if not prefixes:  # e.g. a stray "," : not the same as no selection (the whole suite)
        raise ValueError(f"{text!r} names no clause ID prefix (e.g. HOOK-FIT, OPT-002)")
    return prefixes


def matches(clause_id: str, prefix: str) -> bool:
    if clause_id == prefix or clause_id.startswith(prefix + "-"):
        return True
    # Inside the number: OPT-00 selects OPT-001 (the part after the last dash is all digits).
    head, _, number = clause_id.rpartition("-")
    p_head, _, p_number = prefix.rpartition("-")
    return bool(p_number.isdigit() and p_head == head and number.startswith(p_number))


def selected(clause_id: str, prefixes: Iterable[str]) -> bool:
    """Whether ``clause_id`` is kept by ``prefixes`` (no prefixes keeps everything)."""
    prefixes = list(prefixes)
    return not prefixes or any(matches(clause_id, p) for p in prefixes)
