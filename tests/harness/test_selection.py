"""Selecting clauses by ID prefix."""

from __future__ import annotations

import pytest

from conformance.selection import matches, parse_prefixes, selected


def test_prefixes_are_split_trimmed_and_upper_cased() -> None:
    assert parse_prefixes(" hook-fit, OPT-002 ,,") == ["HOOK-FIT", "OPT-002"]
    assert parse_prefixes(None) == [] and parse_prefixes("") == []
    assert parse_prefixes("OPT-") == ["OPT"]


@pytest.mark.parametrize("bad", ["HOOK FIT", "1OPT", "OPT_002", "OPT-00x?"])
def test_malformed_prefixes_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="not a clause ID prefix"):
        parse_prefixes(bad)


@pytest.mark.parametrize(
    ("clause_id", "prefix", "expected"),
    [
        ("HOOK-FIT-001", "HOOK", True),
        ("HOOK-FIT-001", "HOOK-FIT", True),
        ("HOOK-FIT-001", "HOOK-FIT-001", True),
        ("HOOK-FITX-001", "HOOK-FIT", False),
        ("OPTCFG-001", "OPT", False),
        ("OPT-001", "OPT", True),
        ("OPT-001", "OPT-00", True),
        ("OPT-011", "OPT-00", False),
        ("OPT-002", "OPT-001", False),
    ],
)
def test_a_prefix_matches_whole_words_or_the_start_of_the_number(
    clause_id: str, prefix: str, expected: bool
) -> None:
    assert matches(clause_id, prefix) is expected


def test_no_prefixes_select_everything() -> None:
    assert selected("ANY-001", [])
    assert selected("OPT-002", ["HOOK", "OPT-002"])
    assert not selected("OPT-003", ["HOOK", "OPT-002"])


@pytest.mark.parametrize("empty", [",", " , ,"])
def test_a_prefix_list_of_only_separators_is_rejected(empty: str) -> None:
    # Not "no selection": a stray comma must not silently run the whole suite.
    with pytest.raises(ValueError, match="names no clause ID prefix"):
        parse_prefixes(empty)
