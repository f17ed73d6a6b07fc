"""``load_from_checkpoint``: build a module (or datamodule) again from a checkpoint file.

The class is called with the hyperparameters the checkpoint saved (``hyper_parameters``, or
``datamodule_hyper_parameters``), updated with the keyword arguments given here -- which is also
how arguments excluded with ``save_hyperparameters(ignore=...)`` are supplied again. Then the
module's ``on_load_checkpoint`` sees the checkpoint and its weights are loaded (facts §3.6); a
datamodule gets ``load_state_dict`` with the state saved under its class name.
"""

from __future__ import annotations

import csv
import inspect
import os
from collections.abc import Callable
from typing import IO, Any

from reference.utilities import hparams_yaml
from reference.utilities.checkpoint_io import describe, load_checkpoint
from reference.utilities.signature import is_overridden
from reference.utilities.warnings import warn

# hparams saved under these keys by Lightning < 1.0 are still read (as Lightning does)
_LEGACY_HPARAMS_KEYS = ("module_arguments", "hparams")


class restricted_classmethod:  # noqa: N801 (used like the builtin ``classmethod``)
    """A classmethod that refuses to run on an instance.

    ``model.load_from_checkpoint(path)`` looks like it loads into ``model`` but would return a
    new object and leave ``model`` unchanged: calling it on an instance is a TypeError.
    """

    def __init__(self, method: Callable[..., Any]) -> None:
        self.method = method
        self.__doc__ = method.__doc__

    def __get__(self, instance: Any, owner: type) -> Callable[..., Any]:
        if instance is None or getattr(instance, "_jit_is_scripting", False):
            return self.method.__get__(owner, owner)
        name = self.method.__name__

        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise TypeError(
                f"The classmethod `{owner.__name__}.{name}` cannot be called on an instance: it"
                f" returns a new object. Call it on the class and use the result:"
                f" `model = {owner.__name__}.{name}(path)`."
            )

        return refuse


def load_hparams_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Hyperparameters from a ``.yaml``/``.yml`` file (e.g. a logger's hparams.yaml) or a
    ``.csv`` of ``key,value`` rows."""
    import yaml

    path = os.path.expanduser(os.fspath(path))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"hparams_file not found: {path}")
    extension = path.rsplit(".", 1)[-1].lower()
    if extension in ("yaml", "yml"):
        with open(path) as file:
            try:
                loaded = hparams_yaml.load(file) or {}
            except yaml.YAMLError as exc:
                raise ValueError(
                    f"hparams_file {path} cannot be read safely: only plain values and tuples are"
                    f" loaded, and this file needs more ({exc})"
                ) from exc
        if not isinstance(loaded, dict):
            raise ValueError(f"hparams_file {path} must hold a YAML mapping, found {loaded!r}")
        return loaded
    if extension == "csv":
        with open(path, newline="") as file:
            rows = list(csv.DictReader(file))
        return {row["key"]: yaml.safe_load(row["value"]) for row in rows}
    raise ValueError(f"hparams_file {path}: .csv, .yml or .yaml is required")


def load_from_checkpoint(
    cls: type,
    checkpoint_path: str | os.PathLike[str] | IO[bytes],
    map_location: Any = None,
    hparams_file: str | os.PathLike[str] | None = None,
    strict: bool | None = None,
    weights_only: bool | None = None,
    **kwargs: Any,
) -> Any:
    """``LightningModule.load_from_checkpoint`` and ``LightningDataModule``'s (see above)."""
    from reference.datamodule import LightningDataModule

    name = describe(checkpoint_path)
    checkpoint = load_checkpoint(checkpoint_path, map_location, weights_only)
    key = cls.CHECKPOINT_HYPER_PARAMS_KEY  # type: ignore[attr-defined]
    if hparams_file is not None:
        checkpoint[key] = load_hparams_file(hparams_file)
    checkpoint.setdefault(key, {})
    if not isinstance(checkpoint[key], dict):
        checkpoint[key] = dict(checkpoint[key])
    checkpoint[key].update(kwargs)  # on_load_checkpoint sees the hparams the object gets

    obj = _instantiate(cls, checkpoint, kwargs)
    if isinstance(obj, LightningDataModule):
        state = checkpoint.get(type(obj).__qualname__)
        if state is not None:
            obj.load_state_dict(state)
        return obj
    return _load_module_state(obj, checkpoint, name, strict)


def _instantiate(cls: type, checkpoint: dict[str, Any], kwargs: dict[str, Any]) -> Any:
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]  # skip self
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
    names = [
        p.name
        for p in parameters
        if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    saved: dict[str, Any] = {}
    if cls.CHECKPOINT_HYPER_PARAMS_KEY == "hyper_parameters":  # type: ignore[attr-defined]
        for legacy in _LEGACY_HPARAMS_KEYS:
            saved.update(checkpoint.get(legacy) or {})
    saved.update(checkpoint[cls.CHECKPOINT_HYPER_PARAMS_KEY])  # type: ignore[attr-defined]
    # hparams saved from one config object go back as that one argument
    hparams_name = checkpoint.get(cls.CHECKPOINT_HYPER_PARAMS_NAME)  # type: ignore[attr-defined]
    if hparams_name and hparams_name in names:
        saved = {hparams_name: saved}
    arguments = {**saved, **kwargs}
    if not takes_any:  # keys the class cannot take are dropped, as in Lightning
        arguments = {k: v for k, v in arguments.items() if k in names}
    return cls(**arguments)


def _load_module_state(
    module: Any, checkpoint: dict[str, Any], name: str, strict: bool | None
) -> Any:
    cls_name = type(module).__name__
    user_set = module._strict_loading is not None
    if user_set and strict is not None and strict != module.strict_loading:
        raise ValueError(
            f"You set `.load_from_checkpoint(..., strict={strict!r})` which is in conflict with"
            f" `{cls_name}.strict_loading={module.strict_loading!r}`. Please set the same value for"
            " both of them."
        )
    strict = module.strict_loading if strict is None else strict
    from reference.module import LightningModule

    if is_overridden("configure_model", module, LightningModule):
        module.configure_model()
    module.on_load_checkpoint(checkpoint)
    state_dict = checkpoint["state_dict"]
    load_module_weights(module, state_dict, name, strict)
    if not state_dict:
        warn(f"The state dict in {name!r} contains no parameters.")
        return module
    import torch

    device = next((t.device for t in state_dict.values() if isinstance(t, torch.Tensor)), None)
    return module.to(device) if device is not None else module


def load_module_weights(module: Any, state_dict: dict[str, Any], name: str, strict: bool) -> None:
    """``module.load_state_dict`` with an error naming the checkpoint when the weights do not
    fit, and warnings listing what was skipped under ``strict=False``."""
    try:
        keys = module.load_state_dict(state_dict, strict=strict)
    except RuntimeError as exc:  # torch lists the missing/unexpected keys and shape mismatches
        raise RuntimeError(
            f"The weights in {name} do not fit {type(module).__name__} (a checkpoint of another"
            f" model?): {exc}"
        ) from exc
    if not strict:
        if keys.missing_keys:
            warn(
                "Found keys that are in the model state dict but not in the checkpoint:"
                f" {keys.missing_keys}"
            )
        if keys.unexpected_keys:
            warn(
                "Found keys that are not in the model state dict but in the checkpoint:"
                f" {keys.unexpected_keys}"
            )
