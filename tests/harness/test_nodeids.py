"""Finding a test's clause from its node ID alone (for tests of workers that died)."""

from __future__ import annotations

from pathlib import Path

from conformance.nodeids import clause_for_nodeid, module_name

REPO = Path(__file__).resolve().parents[2]
STATUSES = "fixtures/harness/suite/test_statuses.py"


def test_a_test_file_maps_to_its_package_qualified_module() -> None:
    assert module_name(REPO / STATUSES) == ("fixtures.harness.suite.test_statuses", REPO)


def test_node_ids_map_to_their_clause_and_parameter_id() -> None:
    found = clause_for_nodeid(f"{STATUSES}::test_matrix[cpu-32-true]", REPO)
    assert found is not None
    info, param_id = found
    assert (info.id, param_id) == ("HX-MATRIX-001", "cpu-32-true")
    plain = clause_for_nodeid(f"{STATUSES}::test_fit_calls_training_step", REPO)
    assert plain is not None and plain[0].id == "HX-PASS-001" and plain[1] is None


def test_anything_else_maps_to_nothing() -> None:
    assert clause_for_nodeid(f"{STATUSES}::counting_model", REPO) is None  # not a clause
    assert (
        clause_for_nodeid("fixtures/harness/unimportable_suite/test_broken_module.py::t", REPO)
        is None
    )
    assert clause_for_nodeid("no/such/file.py::test_x", REPO) is None
    assert clause_for_nodeid(STATUSES, REPO) is None
