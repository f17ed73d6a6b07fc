"""save_hyperparameters, hparams/hparams_initial and load_from_checkpoint's argument handling.

Tests taking ``ns`` run on the reference and on real Lightning: both must behave the same.
"""

from __future__ import annotations

import argparse
import enum
import importlib
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

import reference as L
from reference.core.hparams import AttributeDict


def test_attribute_dict() -> None:
    hparams = AttributeDict(lr=0.1)
    hparams.layers = 3
    assert hparams == {"lr": 0.1, "layers": 3}
    assert hparams.lr == 0.1
    del hparams.lr
    with pytest.raises(AttributeError, match="'lr'"):
        _ = hparams.lr
    assert "'layers':" in repr(hparams)


def test_kwargs_are_flattened_and_args_dropped(ns: Any) -> None:
    class Model(ns.LightningModule):
        def __init__(self, a: int, *args: Any, b: int = 2, **kwargs: Any) -> None:
            super().__init__()
            self.save_hyperparameters()

    assert dict(Model(1, 9, 9, b=3, c=4, d="x").hparams) == {"a": 1, "b": 3, "c": 4, "d": "x"}


def test_the_current_value_of_an_argument_is_saved(ns: Any) -> None:
    class Model(ns.LightningModule):
        def __init__(self, name: str = "given") -> None:
            super().__init__()
            name = "overwritten"  # noqa: F841 (read from the frame by save_hyperparameters)
            self.save_hyperparameters()

    assert dict(Model().hparams) == {"name": "overwritten"}


def test_called_from_a_helper_inside_init(ns: Any) -> None:
    class Model(ns.LightningModule):
        def __init__(self, width: int = 4) -> None:
            super().__init__()
            self._remember()

        def _remember(self) -> None:
            self.save_hyperparameters()

    assert dict(Model(width=8).hparams) == {"width": 8}


def test_config_object_name_is_remembered_for_loading(tmp_path: Path) -> None:
    class Configured(L.LightningModule):
        def __init__(self, config: dict[str, Any]) -> None:
            super().__init__()
            self.save_hyperparameters(config)
            self.layer = torch.nn.Linear(config["width"], 1)

    model = Configured({"width": 3})
    assert model._hparams_name == "config"
    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.strategy.connect(model)
    trainer.save_checkpoint(tmp_path / "c.ckpt")
    loaded = Configured.load_from_checkpoint(tmp_path / "c.ckpt")
    assert dict(loaded.hparams) == {"width": 3}
    assert torch.equal(loaded.layer.weight, model.layer.weight)


def test_namespace_config(ns: Any) -> None:
    class Model(ns.LightningModule):
        def __init__(self, config: argparse.Namespace) -> None:
            super().__init__()
            self.save_hyperparameters(config)

    model = Model(argparse.Namespace(hidden=8))
    assert dict(model.hparams) == {"hidden": 8}
    assert model.hparams.hidden == 8


def test_empty_container_and_ignore_of_base_saved_names(ns: Any) -> None:
    class Base(ns.LightningModule):
        def __init__(self, lr: float = 0.1, loss: Any = None) -> None:
            super().__init__()
            self.save_hyperparameters()

    class Child(Base):
        def __init__(self, lr: float = 0.2, loss: Any = None) -> None:
            super().__init__(lr=lr, loss=loss)
            self.save_hyperparameters({})  # an empty container changes nothing
            self.save_hyperparameters(ignore="loss")

    assert dict(Child(loss=len).hparams) == {"lr": 0.2}


def test_unknown_names_and_bad_types_are_clear_errors() -> None:
    class Named(L.LightningModule):
        def __init__(self, lr: float = 0.1) -> None:
            super().__init__()
            self.save_hyperparameters("lr", "epochs")

    with pytest.raises(ValueError, match=r"\['epochs'\] are not arguments of Named.__init__"):
        Named()

    class Listed(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.save_hyperparameters([1, 2])

    with pytest.raises(ValueError, match="Unsupported config type of list"):
        Listed()


def test_a_module_built_inside_another_keeps_its_own_arguments() -> None:
    """Lightning also collects the enclosing module's ``__init__`` arguments (facts §4); the
    reference collects only the frames building the object itself."""

    class Inner(L.LightningModule):
        def __init__(self, size: int = 2) -> None:
            super().__init__()
            self.save_hyperparameters()

    class Outer(L.LightningModule):
        def __init__(self, batch_size: int = 8) -> None:
            super().__init__()
            self.inner = Inner(size=3)

    assert dict(Outer().inner.hparams) == {"size": 3}


def test_nn_module_arguments_are_warned_about(ns: Any) -> None:
    class Model(ns.LightningModule):
        def __init__(self, encoder: torch.nn.Module) -> None:
            super().__init__()
            self.save_hyperparameters()

    with pytest.warns(UserWarning, match="ignore=\\['encoder'\\]"):
        Model(torch.nn.Linear(1, 1))


def test_logger_false_keeps_hparams_out_of_the_loggers(tmp_path: Path) -> None:
    from reference_models import BoringModel

    class Quiet(BoringModel):
        def __init__(self, lr: float = 0.1) -> None:
            super().__init__(lr=lr)
            self.save_hyperparameters(logger=False)

    logger = L.loggers.CSVLogger(tmp_path, name="logs")
    trainer = L.Trainer(
        logger=logger, max_epochs=1, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, limit_val_batches=0,
    )  # fmt: skip
    trainer.fit(Quiet())
    assert not (Path(logger.log_dir) / "hparams.yaml").exists()


# --------------------------------------------------------------------- load_from_checkpoint
class Scaled(L.LightningModule):
    def __init__(self, width: int = 2, scale: float = 1.0, **kwargs: Any) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.layer = torch.nn.Linear(width, 1)


def _saved(tmp_path: Path, model: L.LightningModule) -> Path:
    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.strategy.connect(model)
    path = tmp_path / "m.ckpt"
    trainer.save_checkpoint(path)
    return path


def test_a_class_taking_kwargs_gets_every_saved_key(tmp_path: Path) -> None:
    path = _saved(tmp_path, Scaled(width=3, extra="kept"))
    loaded = Scaled.load_from_checkpoint(path, scale=2.0)
    assert dict(loaded.hparams) == {"width": 3, "scale": 2.0, "extra": "kept"}


def test_keys_the_class_cannot_take_are_dropped(tmp_path: Path) -> None:
    class Fixed(L.LightningModule):
        def __init__(self, width: int = 2) -> None:
            super().__init__()
            self.save_hyperparameters()
            self.layer = torch.nn.Linear(width, 1)

    path = _saved(tmp_path, Fixed(width=3))
    assert dict(Fixed.load_from_checkpoint(path, bogus=1).hparams) == {"width": 3}


def test_hparams_file_csv_and_bad_extension(tmp_path: Path) -> None:
    path = _saved(tmp_path, Scaled(width=3))
    csv_file = tmp_path / "hparams.csv"
    csv_file.write_text("key,value\nwidth,3\nscale,0.5\n")
    assert Scaled.load_from_checkpoint(path, hparams_file=csv_file).hparams.scale == 0.5
    yaml_file = tmp_path / "hparams.yaml"
    yaml_file.write_text(yaml.safe_dump({"width": 3, "scale": 4.0}))
    assert Scaled.load_from_checkpoint(path, hparams_file=yaml_file).hparams.scale == 4.0
    with pytest.raises(ValueError, match=r"\.csv, \.yml or \.yaml is required"):
        Scaled.load_from_checkpoint(path, hparams_file=tmp_path / "m.ckpt")


def test_strict_conflicting_with_strict_loading(tmp_path: Path) -> None:
    class Loose(Scaled):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.strict_loading = False
            self.head = torch.nn.Linear(1, 1)

    path = _saved(tmp_path, Scaled(width=2))
    with pytest.raises(ValueError, match="in conflict with"):
        Loose.load_from_checkpoint(path, strict=True)
    with pytest.warns(UserWarning, match="not in the checkpoint: \\['head.weight', 'head.bias'\\]"):
        loaded = Loose.load_from_checkpoint(path)
    assert loaded.strict_loading is False


def test_the_loaded_module_is_in_train_mode_and_detached(tmp_path: Path) -> None:
    path = _saved(tmp_path, Scaled())
    loaded = Scaled.load_from_checkpoint(path)
    assert loaded.training
    assert loaded._trainer is None


class Colour(enum.Enum):
    RED = 1


def test_hparams_yaml_keeps_tuples_and_names_enums_as_lightning_does(
    ns: Any, tmp_path: Path
) -> None:
    loggers = importlib.import_module(f"{ns.module.__name__}.loggers")
    logger = loggers.CSVLogger(tmp_path, name="logs")
    logger.log_hyperparams({"betas": (0.9, 0.999), "colour": Colour.RED, "sizes": [1, (2, 3)]})
    logger.save()
    text = (Path(logger.log_dir) / "hparams.yaml").read_text()
    assert text == (
        "betas: !!python/tuple\n- 0.9\n- 0.999\ncolour: RED\n"
        "sizes:\n- 1\n- !!python/tuple\n  - 2\n  - 3\n"
    )


def test_hparams_file_written_by_lightning_with_a_tuple_loads(tmp_path: Path) -> None:
    path = _saved(tmp_path, Scaled(width=3))
    lightning_yaml = tmp_path / "hparams.yaml"
    lightning_yaml.write_text("betas: !!python/tuple\n- 0.9\n- 0.999\nscale: 2.0\nwidth: 3\n")
    loaded = Scaled.load_from_checkpoint(path, hparams_file=lightning_yaml)
    assert loaded.hparams.betas == (0.9, 0.999) and loaded.hparams.scale == 2.0


def test_hparams_file_under_home(tmp_path: Path, monkeypatch: Any) -> None:
    path = _saved(tmp_path, Scaled(width=3))
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "hp.yaml").write_text("scale: 5.0\nwidth: 3\n")
    assert Scaled.load_from_checkpoint(path, hparams_file="~/hp.yaml").hparams.scale == 5.0


def test_hparams_file_with_python_objects_is_refused_by_name(tmp_path: Path) -> None:
    path = _saved(tmp_path, Scaled(width=3))
    unsafe = tmp_path / "unsafe.yaml"
    unsafe.write_text('width: !!python/object/apply:os.system ["echo pwned"]\n')
    with pytest.raises(ValueError, match="hparams_file .*unsafe.yaml cannot be read safely"):
        Scaled.load_from_checkpoint(path, hparams_file=unsafe)
