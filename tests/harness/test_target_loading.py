"""Loading targets: the names they must expose, TRAINSPEC declarations, and the one clear error
for every way a target can be unusable."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from conformance import matrix
from conformance.target import (
    DEFAULT_TARGET,
    ENV_VAR,
    Declaration,
    TargetLoadError,
    device_counts,
    device_probe,
    load_target,
    resolve_spec,
)

STUB = "fixtures.harness.targets.stub"


def test_a_module_target_exposes_its_classes_version_and_declaration() -> None:
    target = load_target(STUB)
    stub = sys.modules[STUB]
    assert target.Trainer is stub.Trainer
    assert target.LightningModule is stub.LightningModule
    assert target.Callback is stub.Callback
    assert target.LightningDataModule is None and target.seed_everything is None
    assert (target.name, target.version) == ("harness-stub", "1.2.3")
    assert target.declaration.devices == ("cpu",)
    assert target.declaration.precisions == ("32-true", "16-mixed")
    assert target.declaration.profile == "2.x"
    assert repr(target) == f"<target harness-stub 1.2.3 ({STUB})>"


def test_a_module_attribute_target_reads_the_attribute() -> None:
    target = load_target(f"{STUB}:NAMESPACE")
    assert target.name == "harness-stub-namespace"
    assert target.declaration.profile == "legacy"
    assert target.version == "1.2.3"  # the module's version when the namespace has none


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("fixtures.harness.targets.import_error", "cannot import target"),
        ("fixtures.harness.targets.no_callback", "does not expose Callback"),
        ("no_such_module_xyz", "No module named 'no_such_module_xyz'"),
        (f"{STUB}:MISSING", "has no attribute 'MISSING'"),
        (":Trainer", "empty target specification"),
    ],
)
def test_an_unusable_target_is_one_clear_error(spec: str, expected: str) -> None:
    with pytest.raises(TargetLoadError, match=expected):
        load_target(spec)


def test_the_import_error_names_the_targets_own_exception() -> None:
    with pytest.raises(TargetLoadError) as caught:
        load_target("fixtures.harness.targets.import_error")
    assert "RuntimeError: this trainer cannot be imported (deliberately)" in str(caught.value)


def _namespace_module(monkeypatch: pytest.MonkeyPatch, **names: object) -> str:
    import types

    module = types.ModuleType("trainspec_test_adhoc_target")
    stub = sys.modules.get(STUB) or __import__(STUB, fromlist=["x"])
    module.Trainer = stub.Trainer  # type: ignore[attr-defined]
    module.LightningModule = stub.LightningModule  # type: ignore[attr-defined]
    module.Callback = stub.Callback  # type: ignore[attr-defined]
    for name, value in names.items():
        setattr(module, name, value)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return module.__name__


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ({"TRAINSPEC": ["cpu"]}, "TRAINSPEC must be a mapping"),
        ({"TRAINSPEC": {"profile": "1.x"}}, "profile must be one of 2.x, legacy"),
        ({"TRAINSPEC": {"devices": "cpu"}}, "must be a list of strings"),
        ({"LightningModule": object()}, "LightningModule must be a class"),
        ({"Trainer": 3}, "Trainer must be callable"),
    ],
)
def test_a_malformed_target_is_rejected(
    monkeypatch: pytest.MonkeyPatch, names: dict[str, object], expected: str
) -> None:
    with pytest.raises(TargetLoadError, match=expected):
        load_target(_namespace_module(monkeypatch, **names))


def test_the_target_is_the_explicit_one_then_the_environment_then_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert resolve_spec(None) == DEFAULT_TARGET == "reference"
    monkeypatch.setenv(ENV_VAR, "from_env")
    assert resolve_spec(None) == "from_env"
    assert resolve_spec("explicit") == "explicit"


def test_well_known_targets_get_the_shipped_deviations_file() -> None:
    pytest.importorskip("pytorch_lightning")
    target = load_target("pytorch_lightning")
    assert target.deviations_path is not None
    assert target.deviations_path.name == "pytorch_lightning.toml"
    assert target.deviations_path.exists()
    assert load_target(STUB).deviations_path is None


def test_devices_found_always_include_the_cpu() -> None:
    found = device_counts()
    assert found["cpu"] == 1
    assert set(found) >= {"cpu", "cuda", "mps"}


def test_the_counts_and_the_absence_reasons_come_from_one_probe() -> None:
    probe = device_probe()
    assert set(probe) == set(device_counts())
    present = {kind for kind, count in device_counts().items() if count}
    assert present == {kind for kind, absent in probe.items() if absent is None}
    assert all(absent for kind, absent in probe.items() if kind not in present)


def test_require_skips_what_the_machine_or_the_declaration_rules_out() -> None:
    target = load_target(STUB)  # declares devices ["cpu"], precisions ["32-true", "16-mixed"]
    assert target.unsupported_reason(device="cpu", precision="32-true") is None
    assert target.unsupported_reason(device="xla") == "no xla device on this machine"
    assert "does not declare precision 'bf16-mixed'" in str(
        target.unsupported_reason(precision="bf16-mixed")
    )
    assert "clause applies to profile 'legacy'" in str(target.unsupported_reason(profile="legacy"))
    with pytest.raises(pytest.skip.Exception, match="no xla device"):
        target.require(device="xla")
    target.require(device="cpu")  # runnable: no skip


def test_require_and_the_matrix_read_declared_aliases_alike() -> None:
    declaration = Declaration(devices=("cpu", "gpu"), precisions=("32", "16"))
    target = dataclasses.replace(load_target(STUB), declaration=declaration)
    assert matrix.claimed_devices(target) == ("cpu", "cuda")
    assert matrix.claimed_precisions(target) == ("32-true", "16-mixed")
    assert target.unsupported_reason(device="cpu", precision="16-mixed") is None
    assert target.unsupported_reason(precision="16") is None
    assert matrix.not_run_reason(target, "cpu", "16-mixed") is None
    assert "does not declare precision 'bf16-mixed'" in str(
        target.unsupported_reason(precision="bf16-mixed")
    )
    assert "does not claim precision 'bf16-mixed'" in str(
        matrix.not_run_reason(target, "cpu", "bf16-mixed")
    )


def test_quiet_trainer_defaults_can_be_overridden(tmp_path: object) -> None:
    target = load_target(STUB)
    trainer = target.trainer(tmp_path, max_epochs=3, logger=True)
    assert trainer.max_epochs == 3
    assert trainer.flags["logger"] is True
    assert trainer.flags["enable_checkpointing"] is False
    assert trainer.flags["default_root_dir"] == str(tmp_path)


def test_a_target_that_exits_at_import_is_a_load_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # SystemExit is no Exception: it escaped as an INTERNALERROR of pytest.
    (tmp_path / "trainspec_test_exits_at_import.py").write_text("import sys\nsys.exit(3)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(TargetLoadError) as caught:
        load_target("trainspec_test_exits_at_import")
    assert str(caught.value) == (
        "cannot import target 'trainspec_test_exits_at_import': SystemExit: 3"
    )
