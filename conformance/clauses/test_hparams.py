"""HPARAMS: ``save_hyperparameters()`` in every documented form; ``hparams``, ``hparams_initial``.

Each clause defines a small module (or datamodule) on the target's base class whose ``__init__``
calls ``save_hyperparameters`` in one form, and checks the exact mapping the target captured.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

import pytest

from conformance.kit.citations import docs_silent
from conformance.registry import clause, facts, seed

SAVE_HPARAMS = seed(
    "002",
    "Save Hyperparameters > save_hyperparameters",
    "It will enable Lightning to store all the provided arguments under the self.hparams "
    "attribute.",
)
EXCLUDING = seed(
    "002",
    "Save Hyperparameters > Excluding hyperparameters",
    'self.save_hyperparameters(ignore=["loss_fx", "generator_network"])',
)
HPARAMS_PROPERTY = seed(
    "002",
    "Properties > hparams",
    "The arguments passed through LightningModule.__init__() and saved by calling "
    "save_hyperparameters could be accessed by the hparams attribute.",
)


def _as_dict(hparams: Any) -> dict[str, Any]:
    assert isinstance(hparams, Mapping), (
        f"expected hparams to be a mapping, observed {type(hparams).__name__}"
    )
    return dict(hparams)


@clause(
    "HPARAMS-001",
    "save_hyperparameters() with no arguments captures every __init__ argument in self.hparams",
    level="core",
    source=(SAVE_HPARAMS, HPARAMS_PROPERTY),
)
def test_capture_all_init_args(target: Any) -> None:
    class LitMNIST(target.LightningModule):
        def __init__(self, layer_1_dim: int = 128, learning_rate: float = 1e-2, name: str = "a"):
            super().__init__()
            self.save_hyperparameters()

    model = LitMNIST(layer_1_dim=64, name="b")
    expected = {"layer_1_dim": 64, "learning_rate": 1e-2, "name": "b"}
    observed = _as_dict(model.hparams)
    assert observed == expected, f"expected hparams {expected}, observed {observed}"
    assert model.hparams.layer_1_dim == 64, (
        f"expected hparams.layer_1_dim == 64 (attribute access), "
        f"observed {getattr(model.hparams, 'layer_1_dim', '<missing>')!r}"
    )


@clause(
    "HPARAMS-002",
    "save_hyperparameters('a', 'b') captures only the named __init__ arguments",
    level="core",
    source=seed(
        "002",
        "Save Hyperparameters > save_hyperparameters",
        'self.save_hyperparameters("layer_1_dim", "learning_rate")',
    ),
)
def test_capture_named_args(target: Any) -> None:
    class LitMNIST(target.LightningModule):
        def __init__(self, layer_1_dim: int = 128, learning_rate: float = 1e-2, name: str = "a"):
            super().__init__()
            self.save_hyperparameters("layer_1_dim", "learning_rate")

    observed = _as_dict(LitMNIST(layer_1_dim=32).hparams)
    expected = {"layer_1_dim": 32, "learning_rate": 1e-2}
    assert observed == expected, f"expected hparams {expected}, observed {observed}"


@clause(
    "HPARAMS-003",
    "save_hyperparameters(ignore=...) leaves the ignored arguments out (a list or one name)",
    level="core",
    source=EXCLUDING,
)
def test_ignore(target: Any) -> None:
    class ListIgnore(target.LightningModule):
        def __init__(self, loss_fx: Any, generator_network: Any, layer_1_dim: int = 128):
            super().__init__()
            self.save_hyperparameters(ignore=["loss_fx", "generator_network"])

    class NameIgnore(target.LightningModule):
        def __init__(self, loss_fx: Any, layer_1_dim: int = 128):
            super().__init__()
            self.save_hyperparameters(ignore="loss_fx")

    observed = _as_dict(ListIgnore(len, print, layer_1_dim=16).hparams)
    assert observed == {"layer_1_dim": 16}, (
        f"ignore=[...]: expected hparams {{'layer_1_dim': 16}}, observed {observed}"
    )
    observed = _as_dict(NameIgnore(len).hparams)
    assert observed == {"layer_1_dim": 128}, (
        f"ignore='loss_fx': expected hparams {{'layer_1_dim': 128}}, observed {observed}"
    )


@clause(
    "HPARAMS-004",
    "save_hyperparameters(config) with a dict or Namespace stores its entries as the hparams",
    level="de-facto",
    source=facts("§4", "save_hyperparameters(obj) with a dict / Namespace (single config object)"),
    docs_say=docs_silent("a dict or Namespace argument", "Save Hyperparameters"),
)
def test_config_object(target: Any) -> None:
    class DictConfig(target.LightningModule):
        def __init__(self, config: dict[str, Any]):
            super().__init__()
            self.save_hyperparameters(config)

    class NamespaceConfig(target.LightningModule):
        def __init__(self, config: argparse.Namespace):
            super().__init__()
            self.save_hyperparameters(config)

    config = {"hidden": 8, "optimizer": "adam"}
    for cls, arg in ((DictConfig, dict(config)), (NamespaceConfig, argparse.Namespace(**config))):
        model = cls(arg)
        observed = _as_dict(model.hparams)
        assert observed == config, f"{cls.__name__}: expected hparams {config}, observed {observed}"
        assert model.hparams.hidden == 8, (
            f"{cls.__name__}: expected hparams.hidden == 8 by attribute, "
            f"observed {getattr(model.hparams, 'hidden', '<missing>')!r}"
        )


@clause(
    "HPARAMS-005",
    "hparams_initial keeps the values saved by save_hyperparameters; hparams may be mutated",
    level="de-facto",
    source=facts("§4", "self.hparams_initial is a deep copy taken at save time"),
    docs_say=docs_silent("hparams_initial", "Properties > hparams"),
)
def test_hparams_initial_is_a_snapshot(target: Any) -> None:
    class Mutating(target.LightningModule):
        def __init__(self, lr: float = 0.1, layers: list[int] | None = None):
            super().__init__()
            self.save_hyperparameters()
            self.hparams.lr = 0.2  # a tuned value replaces the given one
            self.hparams.layers.append(3)  # nested values must be copied too

    model = Mutating(layers=[1, 2])
    current, initial = _as_dict(model.hparams), _as_dict(model.hparams_initial)
    assert current == {"lr": 0.2, "layers": [1, 2, 3]}, (
        f"expected mutated hparams {{'lr': 0.2, 'layers': [1, 2, 3]}}, observed {current}"
    )
    assert initial == {"lr": 0.1, "layers": [1, 2]}, (
        f"expected hparams_initial {{'lr': 0.1, 'layers': [1, 2]}}, observed {initial}"
    )
    model.hparams_initial["lr"] = 5.0  # reading must hand out a copy, not the snapshot itself
    again = _as_dict(model.hparams_initial)
    assert again["lr"] == 0.1, f"expected hparams_initial lr 0.1 after editing a read, got {again}"


@clause(
    "HPARAMS-006",
    "save_hyperparameters() in a base __init__ also captures the subclass's __init__ arguments",
    level="de-facto",
    source=facts("§4", "base-class and subclass __init__ args are merged"),
    docs_say=docs_silent("subclassing", "Save Hyperparameters"),
)
def test_subclass_args_merged(target: Any) -> None:
    class Base(target.LightningModule):
        def __init__(self, lr: float = 0.1):
            super().__init__()
            self.save_hyperparameters()

    class Child(Base):
        def __init__(self, width: int = 4, lr: float = 0.3):
            super().__init__(lr=lr)

    observed = _as_dict(Child(width=9).hparams)
    assert observed == {"width": 9, "lr": 0.3}, (
        f"expected hparams {{'width': 9, 'lr': 0.3}} (subclass args included), observed {observed}"
    )


@clause(
    "HPARAMS-007",
    "save_hyperparameters() with a primitive value (e.g. 42) raises ValueError",
    level="de-facto",
    source=facts("§4", "Passing a primitive (e.g. save_hyperparameters(42)) -> ValueError"),
    docs_say=docs_silent("invalid arguments", "Save Hyperparameters"),
)
def test_primitive_rejected(target: Any) -> None:
    class Primitive(target.LightningModule):
        def __init__(self, lr: float = 0.1):
            super().__init__()
            self.save_hyperparameters(42)

    with pytest.raises(ValueError) as raised:
        Primitive()
    assert str(raised.value), "expected a ValueError with a message, observed an empty message"


@clause(
    "HPARAMS-008",
    "LightningDataModule.save_hyperparameters() captures init args in hparams and hparams_initial",
    level="de-facto",
    source=facts("§3.1, §4", "DataModule hparams (datamodule_hyper_parameters)"),
    docs_say=docs_silent("LightningDataModule hyperparameters", "Save Hyperparameters"),
)
def test_datamodule_hparams(target: Any) -> None:
    if target.LightningDataModule is None:
        pytest.skip(f"target {target.describe()} has no LightningDataModule")

    class AllArgs(target.LightningDataModule):
        def __init__(self, batch_size: int = 4, root: str = "data", transform: Any = None):
            super().__init__()
            self.save_hyperparameters(ignore=["transform"])
            self.hparams.batch_size = 16

    dm = AllArgs(batch_size=8, transform=len)
    current, initial = _as_dict(dm.hparams), _as_dict(dm.hparams_initial)
    assert current == {"batch_size": 16, "root": "data"}, (
        f"expected datamodule hparams {{'batch_size': 16, 'root': 'data'}}, observed {current}"
    )
    assert initial == {"batch_size": 8, "root": "data"}, (
        f"expected datamodule hparams_initial {{'batch_size': 8, 'root': 'data'}}, "
        f"observed {initial}"
    )
