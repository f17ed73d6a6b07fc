"""CKPT-LOAD: ``load_from_checkpoint`` re-instantiates a module (or datamodule) from a checkpoint.

The clauses train the tiny module with non-default hyperparameters, save it, then load it back
with the class method in the documented ways and compare the result with the trained original.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from conformance.kit.checkpoints import assert_same, error_text, weights_of
from conformance.kit.citations import docs_silent
from conformance.kit.ckpt_models import tiny_datamodule_class, tiny_module_class
from conformance.registry import clause, facts, seed

LOAD_DOCS = seed(
    "002",
    "Save Hyperparameters > load_from_checkpoint",
    "LightningModules that have hyperparameters automatically saved with save_hyperparameters "
    "can conveniently be loaded and instantiated directly from a checkpoint",
)
EXCLUDED_DOCS = seed(
    "002",
    "Save Hyperparameters > load_from_checkpoint",
    "If parameters were excluded, they need to be provided at the time of loading",
)
LOAD_SILENT = docs_silent("load_from_checkpoint's keyword arguments", "load_from_checkpoint")
HPARAMS = {"width": 5, "lr": 0.02, "batches": 2, "shuffle": False, "dropout": 0.0}


def _trained_checkpoint(
    target: Any, root: Path, encoder: torch.nn.Module | None = None, datamodule: Any = None
) -> tuple[Any, Path]:
    """Fit TinyModule(width=5, lr=0.02, batches=2) for one epoch; save it; return (model, path)."""
    model = tiny_module_class(target)(width=5, lr=0.02, batches=2, encoder=encoder)
    trainer = target.trainer(root, max_epochs=1, limit_val_batches=0, num_sanity_val_steps=0)
    trainer.fit(model, datamodule=datamodule)
    path = root / "trained.ckpt"
    trainer.save_checkpoint(path)
    return model, path


@clause(
    "CKPT-LOAD-001",
    "Module.load_from_checkpoint(path) rebuilds the module from its saved hparams and weights",
    level="core",
    source=LOAD_DOCS,
)
def test_load_rebuilds_module(target: Any, tmp_path: Path) -> None:
    cls = tiny_module_class(target)
    trained, path = _trained_checkpoint(target, tmp_path)
    loaded = cls.load_from_checkpoint(path)
    assert type(loaded) is cls, f"expected a {cls.__name__}, observed {type(loaded).__name__}"
    assert dict(loaded.hparams) == HPARAMS, (
        f"expected hparams {HPARAMS} (from the checkpoint), observed {dict(loaded.hparams)}"
    )
    assert_same(weights_of(trained), weights_of(loaded), "weights after load_from_checkpoint")
    batch = torch.ones(2, 5)
    with torch.no_grad():
        assert torch.equal(trained(batch), loaded(batch)), (
            "expected the loaded module to compute exactly what the trained one computes"
        )


@clause(
    "CKPT-LOAD-002",
    "arguments excluded with ignore= are supplied again to load_from_checkpoint and used",
    level="core",
    source=EXCLUDED_DOCS,
)
def test_excluded_args_resupplied(target: Any, tmp_path: Path) -> None:
    cls = tiny_module_class(target)
    trained, path = _trained_checkpoint(target, tmp_path, encoder=torch.nn.Linear(5, 5))
    supplied = torch.nn.Linear(5, 5)
    loaded = cls.load_from_checkpoint(path, encoder=supplied)
    assert loaded.encoder is supplied, (
        f"expected the supplied encoder object to be used, observed {loaded.encoder!r}"
    )
    assert "encoder" not in loaded.hparams, (
        f"expected the ignored 'encoder' to stay out of hparams, observed {dict(loaded.hparams)}"
    )
    assert_same(weights_of(trained), weights_of(loaded), "weights (encoder included) after load")


@clause(
    "CKPT-LOAD-003",
    "keyword arguments to load_from_checkpoint override the saved hyperparameters",
    level="de-facto",
    source=facts("§3.6", "kwargs are merged into the hparams dict (kwargs win)"),
    docs_say=seed(
        "002",
        "Save Hyperparameters > load_from_checkpoint",
        "# to load specify the other args",
    ),
)
def test_kwargs_override(target: Any, tmp_path: Path) -> None:
    cls = tiny_module_class(target)
    trained, path = _trained_checkpoint(target, tmp_path)
    loaded = cls.load_from_checkpoint(path, lr=0.5, batches=7)
    expected = {**HPARAMS, "lr": 0.5, "batches": 7}
    assert dict(loaded.hparams) == expected, (
        f"expected hparams {expected} (kwargs over saved values), observed {dict(loaded.hparams)}"
    )
    assert_same(weights_of(trained), weights_of(loaded), "weights after load with overrides")


@clause(
    "CKPT-LOAD-004",
    "map_location is applied to every stored tensor (a callable is called, 'cpu' maps to CPU)",
    level="de-facto",
    source=facts("§3.6", "torch.load via fsspec with map_location"),
    docs_say=LOAD_SILENT,
)
def test_map_location(target: Any, tmp_path: Path) -> None:
    cls = tiny_module_class(target)
    trained, path = _trained_checkpoint(target, tmp_path)
    seen: list[str] = []

    def remap(storage: Any, location: str) -> Any:
        seen.append(location)
        return storage

    loaded = cls.load_from_checkpoint(path, map_location=remap)
    assert seen, "expected the map_location callable to be called for the stored tensors"
    assert_same(weights_of(trained), weights_of(loaded), "weights loaded with a map_location fn")
    for where in ("cpu", torch.device("cpu")):
        loaded = cls.load_from_checkpoint(path, map_location=where)
        devices = {str(p.device) for p in loaded.parameters()}
        assert devices == {"cpu"}, f"map_location={where!r}: expected cpu params, got {devices}"


@clause(
    "CKPT-LOAD-005",
    "strict loading (the default) rejects missing keys; strict=False loads what matches",
    level="de-facto",
    source=facts(
        "§3.6",
        "strict defaults to obj.strict_loading (True); non-strict logs "
        "missing/unexpected keys as warnings",
    ),
    docs_say=LOAD_SILENT,
)
def test_strict(target: Any, tmp_path: Path) -> None:
    trained, path = _trained_checkpoint(target, tmp_path)

    class Wider(tiny_module_class(target)):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.head = torch.nn.Linear(2, 2)  # not in the checkpoint

    with pytest.raises(Exception) as raised:
        Wider.load_from_checkpoint(path)
    assert "head" in error_text(raised.value), (
        f"expected the strict-load error to name the missing 'head' keys, observed "
        f"{error_text(raised.value)!r}"
    )
    loaded = Wider.load_from_checkpoint(path, strict=False)
    observed = {k: v for k, v in weights_of(loaded).items() if not k.startswith("head.")}
    assert_same(weights_of(trained), observed, "matching weights after strict=False load")


@clause(
    "CKPT-LOAD-006",
    "load_from_checkpoint is a class method: calling it on an instance raises TypeError",
    level="de-facto",
    source=facts("§3.6", "class-only (calling on an instance raises TypeError)"),
    docs_say=LOAD_DOCS,
)
def test_class_only(target: Any, tmp_path: Path) -> None:
    trained, path = _trained_checkpoint(target, tmp_path)
    with pytest.raises(TypeError):
        trained.load_from_checkpoint(path)


@clause(
    "CKPT-LOAD-007",
    "hparams_file=<yaml> replaces the checkpoint's hyperparameters when re-instantiating",
    level="de-facto",
    source=facts("§3.6", "hparams_file (.yaml/.yml/.csv) replaces ckpt['hyper_parameters']"),
    docs_say=LOAD_SILENT,
)
def test_hparams_file(target: Any, tmp_path: Path) -> None:
    cls = tiny_module_class(target)
    trained, path = _trained_checkpoint(target, tmp_path)
    hparams_file = tmp_path / "hparams.yaml"
    hparams_file.write_text(yaml.safe_dump({**HPARAMS, "lr": 0.25}))
    loaded = cls.load_from_checkpoint(path, hparams_file=str(hparams_file))
    expected = {**HPARAMS, "lr": 0.25}
    assert dict(loaded.hparams) == expected, (
        f"expected hparams {expected} from {hparams_file.name}, observed {dict(loaded.hparams)}"
    )
    assert_same(weights_of(trained), weights_of(loaded), "weights loaded with hparams_file")


@clause(
    "CKPT-LOAD-008",
    "DataModule.load_from_checkpoint rebuilds it from its saved hparams and restores its state",
    level="de-facto",
    source=facts(
        "§3.6",
        "LightningDataModule.load_from_checkpoint analogous, using "
        "datamodule_hyper_parameters and calling load_state_dict(ckpt[qualname])",
    ),
    docs_say=LOAD_SILENT,
)
def test_datamodule_load(target: Any, tmp_path: Path) -> None:
    dm_cls = tiny_datamodule_class(target)
    datamodule = dm_cls(width=5, batches=2, batch_size=2)
    _, path = _trained_checkpoint(target, tmp_path, datamodule=datamodule)
    loaded = dm_cls.load_from_checkpoint(path, batch_size=1)
    expected = {"width": 5, "batches": 2, "batch_size": 1}
    assert dict(loaded.hparams) == expected, (
        f"expected datamodule hparams {expected} (batch_size overridden), "
        f"observed {dict(loaded.hparams)}"
    )
    assert loaded.restored_state == {"token": 7}, (
        f"expected load_state_dict({{'token': 7}}), observed {loaded.restored_state!r}"
    )
