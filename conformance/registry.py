"""The clause registry: every conformance test is a clause with an ID, a statement and a source.

A clause is declared with the :func:`clause` decorator on a pytest test function::

    @clause(
        "HOOK-FIT-001",
        "fit() fires the documented hooks in Lightning's entry order",
        level="de-facto",
        source=facts("§1.3", "entry order observed with lightning 2.6.6"),
        docs_say=seed("002", "Hooks", "on_train_batch_start() before on_before_batch_transfer()"),
    )
    def test_fit_order(target, make_trainer): ...

The decorator records a :class:`ClauseInfo` in :data:`REGISTRY` (used to generate the catalogue
in ``docs/``) and attaches a ``trainspec_clause`` pytest marker that the plugin reads to report
results per clause. IDs are stable names (``FAMILY-NNN``), never section numbers, so a clause keeps
its ID when documents are reorganised.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import pytest

Level = Literal["core", "de-facto", "extended"]
LEVELS: tuple[str, ...] = ("core", "de-facto", "extended")

# Clause IDs: an upper-case family of one or more dash-separated words, then a 3-digit number.
CLAUSE_ID = re.compile(r"^(?P<family>[A-Z][A-Z0-9]*(?:-[A-Z][A-Z0-9]*)*)-(?P<number>\d{3})$")

# The documents in ../shared/seeds, by the number that starts their file name.
SEEDS: dict[str, str] = {
    "000": "seed 000_85f9f6343c0df6bf.txt (Lightning ~0.9/1.0 lightning-module.rst, rendered)",
    "001": "seed 001_ec24bd25e6ae04cf.txt (article on PyTorch's .to())",
    "002": "seed 002_95a9e4ecd7fa29e4.txt (Lightning 2.x lightning_module.rst)",
    "003": "seed 003_afffb839b4730bc6.txt (Lightning ~0.9 lightning-module.rst source)",
    "004": "seed 004_6b513f9deff11cfe.txt (Lightning 1.3 Accelerator API)",
}
FACTS_DOCUMENT = "de facto: Lightning 2.6 behaviour (shared/lightning-2x-facts.md)"


@dataclass(frozen=True)
class Source:
    """Where a clause comes from: a document, a section in it and a short quote."""

    document: str
    section: str
    quote: str = ""

    def cite(self) -> str:
        text = f"{self.document}, {self.section}"
        return f'{text}: "{self.quote}"' if self.quote else text

    def as_dict(self) -> dict[str, str]:
        return {"document": self.document, "section": self.section, "quote": self.quote}


def seed(number: str, section: str, quote: str = "") -> Source:
    """Cite one of the seed documents (``number`` is the 3-digit prefix of its file name)."""
    if number not in SEEDS:
        raise ValueError(f"unknown seed {number!r}; known: {', '.join(SEEDS)}")
    return Source(SEEDS[number], section, quote)


def facts(section: str, quote: str = "") -> Source:
    """Cite observed Lightning 2.6 behaviour (the facts file, its source and tests)."""
    return Source(FACTS_DOCUMENT, section, quote)


@dataclass(frozen=True)
class ClauseInfo:
    """Metadata of one clause; serialisable into the certificate and the catalogue."""

    id: str
    title: str
    level: Level
    sources: tuple[Source, ...]
    docs_say: Source | None = None
    family: str = ""
    nodeid_hint: str = field(default="", compare=False)

    @property
    def source_text(self) -> str:
        return "; ".join(s.cite() for s in self.sources)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "level": self.level,
            "family": self.family,
            "source": self.source_text,
            "sources": [s.as_dict() for s in self.sources],
            "docs_say": self.docs_say.cite() if self.docs_say else None,
        }


REGISTRY: dict[str, ClauseInfo] = {}

F = TypeVar("F", bound=Callable[..., Any])


def family_of(clause_id: str) -> str:
    match = CLAUSE_ID.match(clause_id)
    if not match:
        raise ValueError(f"bad clause ID {clause_id!r}: expected FAMILY-NNN, e.g. 'HOOK-FIT-003'")
    return match.group("family")


def clause(
    clause_id: str,
    title: str,
    *,
    level: Level,
    source: Source | tuple[Source, ...] | list[Source],
    docs_say: Source | None = None,
) -> Callable[[F], F]:
    """Declare the decorated pytest test as conformance clause ``clause_id``.

    ``level`` is ``"core"`` (the documented contract), ``"de-facto"`` (Lightning's observed
    behaviour where the docs are silent or wrong; then ``docs_say`` quotes the docs, or says they
    are silent) or ``"extended"`` (beyond what Lightning promises).
    """
    family = family_of(clause_id)
    if level not in LEVELS:
        raise ValueError(f"clause {clause_id}: level must be one of {LEVELS}, not {level!r}")
    sources = (source,) if isinstance(source, Source) else tuple(source)
    if not sources:
        raise ValueError(f"clause {clause_id}: at least one source is required")
    if not title or "\n" in title:
        raise ValueError(f"clause {clause_id}: the title must be one non-empty line")
    if level == "de-facto" and docs_say is None:
        raise ValueError(
            f"clause {clause_id}: a de-facto clause must say what the docs say (docs_say=...)"
        )

    def decorate(func: F) -> F:
        info = ClauseInfo(
            id=clause_id,
            title=title,
            level=level,
            sources=sources,
            docs_say=docs_say,
            family=family,
            nodeid_hint=f"{func.__module__}.{func.__qualname__}",
        )
        existing = REGISTRY.get(clause_id)
        if existing is not None and existing.nodeid_hint != info.nodeid_hint:
            raise ValueError(
                f"duplicate clause ID {clause_id}: {existing.nodeid_hint} and {info.nodeid_hint}"
            )
        REGISTRY[clause_id] = info
        func.__trainspec_clause__ = info  # type: ignore[attr-defined]
        return pytest.mark.trainspec_clause(info)(func)  # type: ignore[no-any-return]

    return decorate


def clause_of(item: pytest.Item) -> ClauseInfo | None:
    """The clause a collected pytest item encodes, or None for a non-clause test."""
    marker = item.get_closest_marker("trainspec_clause")
    return marker.args[0] if marker else None
