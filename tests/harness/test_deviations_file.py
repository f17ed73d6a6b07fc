"""The deviations file: its strict shape, how entries match clause runs, and its problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.deviations import DeviationsError, load_deviations, parse_deviations

VALID = """
[[deviation]]
clause = "OPT-002"
reason = "steps before zeroing"
link = "https://example.invalid/1"

[[deviation]]
clause = "PREC-001"
reason = "no GradScaler on old torch with fp16"
[deviation.when]
device = "cuda"
precision = ["16-mixed", "bf16-mixed"]
torch = "<2.5"
target_version = ">=2.6"

[[deviation]]
clause = "PREC-001"
reason = "fallback entry for every other cell"
"""


def _match(text: str, clause: str, params: dict, torch: str = "2.4.1", version: str = "2.6.6"):
    return parse_deviations(text).match(clause, params, torch_version=torch, target_version=version)


def test_a_valid_file_parses_into_entries() -> None:
    parsed = parse_deviations(VALID)
    assert [e.clause for e in parsed.entries] == ["OPT-002", "PREC-001", "PREC-001"]
    first, second = parsed.entries[:2]
    assert (first.reason, first.link, first.index) == ("steps before zeroing", first.link, 1)
    assert second.params == {"device": ("cuda",), "precision": ("16-mixed", "bf16-mixed")}
    assert str(second.torch) == "<2.5" and str(second.target_version) == ">=2.6"
    assert second.as_dict()["when"]["torch"] == "<2.5"


def test_an_entry_without_conditions_matches_every_run_of_its_clause() -> None:
    assert _match(VALID, "OPT-002", {}).reason == "steps before zeroing"
    assert _match(VALID, "OPT-002", {"device": "cpu"}).reason == "steps before zeroing"
    assert _match(VALID, "OPT-003", {}) is None


def test_conditions_match_parameters_and_versions_and_the_first_match_wins() -> None:
    cuda_fp16 = {"device": "cuda", "precision": "16-mixed"}
    assert _match(VALID, "PREC-001", cuda_fp16).reason.startswith("no GradScaler")
    bf16 = {"device": "cuda", "precision": "bf16-mixed"}
    assert _match(VALID, "PREC-001", bf16).reason.startswith("no GradScaler")
    # any condition failing falls through to the unconditional entry
    cpu = {"device": "cpu", "precision": "16-mixed"}
    assert _match(VALID, "PREC-001", cpu).reason.startswith("fallback")
    assert _match(VALID, "PREC-001", cuda_fp16, torch="2.13.0+cpu").reason.startswith("fallback")
    assert _match(VALID, "PREC-001", cuda_fp16, version="2.5.0").reason.startswith("fallback")
    assert _match(VALID, "PREC-001", cuda_fp16, version="unknown").reason.startswith("fallback")


def test_parameter_values_compare_as_text() -> None:
    text = '[[deviation]]\nclause = "X-001"\nreason = "r"\n[deviation.when]\nshuffle = true\n'
    assert _match(text, "X-001", {"shuffle": True}) is not None
    assert _match(text, "X-001", {"shuffle": False}) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[[deviation]]\nclause = "OPT-002"\n', "'reason' is mandatory"),
        ('[[deviation]]\nclause = "OPT-002"\nreason = "  "\n', "'reason' is mandatory"),
        ('[[deviation]]\nclause = "opt-2"\nreason = "r"\n', "must be a clause ID"),
        ('[[deviation]]\nreason = "r"\n', "must be a clause ID"),
        ('[[deviation]]\nclause = "OPT-002"\nreason = "r"\nwhy = "x"\n', "unknown key"),
        ('[[deviations]]\nclause = "OPT-002"\nreason = "r"\n', "unknown top-level key"),
        ("deviation = 3\n", "must be an array of tables"),
        ('[[deviation]]\nclause = "OPT-002"\nreason = "r"\nlink = 3\n', "'link' must be"),
        ('[[deviation]]\nclause = "OPT-002"\nreason = "r"\nwhen = 1\n', "'when' must be a table"),
        (
            '[[deviation]]\nclause = "OPT-002"\nreason = "r"\n[deviation.when]\ntorch = "<<2"\n',
            "not a PEP 440 specifier",
        ),
        (
            '[[deviation]]\nclause = "OPT-002"\nreason = "r"\n[deviation.when]\ndevice = []\n',
            "non-empty list",
        ),
        ("[[deviation]\n", "not valid TOML"),
    ],
)
def test_a_malformed_file_is_rejected_whole(text: str, expected: str) -> None:
    with pytest.raises(DeviationsError, match=expected):
        parse_deviations(text)


def test_errors_name_the_file_and_entry(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(VALID + '\n[[deviation]]\nclause = "OPT-009"\n')
    with pytest.raises(DeviationsError, match=r"mine\.toml entry 4: OPT-009: 'reason'"):
        load_deviations(path)


def test_a_missing_file_is_an_error_and_no_file_means_no_deviations(tmp_path: Path) -> None:
    with pytest.raises(DeviationsError, match="does not exist"):
        load_deviations(tmp_path / "absent.toml")
    assert load_deviations(None).entries == []


def test_problems_are_unknown_clauses_and_conditions_on_absent_parameters() -> None:
    parsed = parse_deviations(VALID)
    problems = parsed.problems(["OPT-002", "PREC-001"], {"PREC-001": {"device": ()}})
    assert len(problems) == 1
    assert "condition 'precision' is not a parameter of the clause" in problems[0]
    problems = parsed.problems(["PREC-001"], {"PREC-001": {"device": (), "precision": ()}})
    assert problems == ["<deviations> entry 1 (OPT-002): no registered clause has ID 'OPT-002'"]


def test_the_shipped_deviations_files_parse_and_name_registered_clauses() -> None:
    from conformance.catalogue import load_suite

    known = {info.id for info in load_suite("conformance.clauses")}
    shipped = sorted((Path(__file__).parents[2] / "conformance" / "deviations").glob("*.toml"))
    assert shipped, "no shipped deviations files found"
    for path in shipped:
        parsed = load_deviations(path)
        unknown = [e.clause for e in parsed.entries if e.clause not in known]
        assert not unknown, f"{path.name} declares deviations for unknown clauses {unknown}"


def test_a_target_version_condition_on_a_target_without_a_version_is_a_problem() -> None:
    # Otherwise the entry silently never applies and the clause shows as an undeclared failure.
    parsed = parse_deviations(
        '[[deviation]]\nclause = "OPT-002"\nreason = "r"\n[deviation.when]\n'
        'target_version = ">=1.0"\n'
    )
    assert parsed.problems(["OPT-002"], {}, target_version="1.2") == []
    assert parsed.problems(["OPT-002"], {}, target_version="unknown") == [
        "<deviations> entry 1 (OPT-002): condition 'target_version' cannot be checked: the "
        "target's version 'unknown' is not a PEP 440 version (set __version__ in the target "
        "module)"
    ]


def test_a_condition_value_the_clause_never_runs_with_is_a_problem() -> None:
    # A typo ("16-mix", or "gpu" where the parameter says "cuda") made the entry silently never
    # apply; the clause then showed as an undeclared failure.
    parsed = parse_deviations(
        '[[deviation]]\nclause = "PREC-001"\nreason = "r"\n[deviation.when]\n'
        'device = "gpu"\nprecision = ["16-mixed", "bf16-mix"]\n'
    )
    values = {"PREC-001": {"device": {"cpu", "cuda"}, "precision": {"16-mixed", "32-true"}}}
    assert parsed.problems(["PREC-001"], values) == [
        "<deviations> entry 1 (PREC-001): condition device='gpu' matches none of the values the "
        "clause runs with (cpu, cuda)"
    ]
    values["PREC-001"]["device"].add("gpu")
    assert parsed.problems(["PREC-001"], values) == []
