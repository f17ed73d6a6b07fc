"""Citation helpers shared by the clause modules.

A ``de-facto`` clause must say what the documents say. Often the 2.x contract (seed 002) simply
says nothing about a Trainer flag; :func:`docs_silent` makes that explicit instead of inventing a
quote.
"""

from __future__ import annotations

from conformance.registry import Source, seed

PRIMARY_SEED = "002"


def docs_silent(topic: str, section: str = "whole document") -> Source:
    """Cite seed 002 as *silent* about ``topic`` (it documents no rule for it)."""
    return seed(PRIMARY_SEED, f"{section} (silent on {topic})")
