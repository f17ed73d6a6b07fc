"""``save_hyperparameters``: remember the arguments a module or datamodule was built with.

``self.save_hyperparameters()`` in ``__init__`` stores the ``__init__`` arguments in
``self.hparams`` (a mutable :class:`AttributeDict`) and a deep copy in ``hparams_initial``. The
checkpoint saves the *current* ``hparams`` so that ``load_from_checkpoint`` can call the class
again with them; loggers write the *initial* ones to ``hparams.yaml`` (facts §4).

Forms: no arguments (every ``__init__`` argument), argument names (``"lr", "layers"``), one
config object (a dict or ``argparse.Namespace``), and ``ignore=`` (a name or a list of names).
"""

from __future__ import annotations

import copy
import inspect
import types
from argparse import Namespace
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import fields, is_dataclass
from typing import Any

from reference.utilities.warnings import warn

_PRIMITIVES = (bool, int, float, complex, str)


class AttributeDict(dict):
    """A dict whose keys are also attributes: ``hparams.lr`` is ``hparams["lr"]``."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError as missing:
            raise AttributeError(f"Missing attribute {key!r}") from missing

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def __delattr__(self, key: str) -> None:
        try:
            del self[key]
        except KeyError as missing:
            raise AttributeError(f"Missing attribute {key!r}") from missing

    def __repr__(self) -> str:
        if not self:
            return ""
        width = max(len(str(k)) for k in self)
        return "\n".join(f"{f'{k!r}:':<{width + 3}} {v}" for k, v in sorted(self.items()))

    def __deepcopy__(self, memo: dict[int, Any]) -> AttributeDict:
        return AttributeDict({k: copy.deepcopy(v, memo) for k, v in self.items()})


def _frame_arguments(frame: types.FrameType) -> dict[str, Any]:
    """The named arguments of the function running in ``frame``, with their *current* values.

    ``self`` and the ``*args`` name are left out; the contents of ``**kwargs`` are merged in.
    """
    code = frame.f_code
    names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    local = frame.f_locals
    arguments = {name: local[name] for name in names[1:] if name in local}
    position = len(names)
    if code.co_flags & inspect.CO_VARARGS:
        position += 1  # *args carries no names: not a hyperparameter
    if code.co_flags & inspect.CO_VARKEYWORDS:
        arguments.update(local.get(code.co_varnames[position], {}))
    return arguments


def _is_init_of(frame: types.FrameType | None, obj: Any) -> bool:
    """Whether ``frame`` runs some class's ``__init__`` on ``obj`` itself."""
    if frame is None or frame.f_code.co_name != "__init__" or frame.f_code.co_argcount == 0:
        return False
    return frame.f_locals.get(frame.f_code.co_varnames[0]) is obj


def collect_init_arguments(obj: Any, frame: types.FrameType) -> dict[str, Any]:
    """Every argument of the ``__init__`` calls building ``obj``, found from ``frame`` outwards.

    A base class's ``__init__`` calling ``save_hyperparameters`` sees its subclasses'
    ``__init__`` frames above it on the stack: all of them are collected, the most derived
    class's value winning (facts §4). Unlike Lightning, an *enclosing* module's ``__init__`` (one
    module built inside another's) is not collected: its arguments belong to the other object.
    """
    if is_dataclass(obj):
        return {f.name: getattr(obj, f.name) for f in fields(obj) if f.init}
    while frame is not None and not _is_init_of(frame, obj):
        frame = frame.f_back  # called from a helper inside __init__: find the __init__
    levels: list[dict[str, Any]] = []
    while _is_init_of(frame, obj):
        levels.append(_frame_arguments(frame))  # type: ignore[arg-type]
        frame = frame.f_back  # type: ignore[union-attr]
    arguments: dict[str, Any] = {}
    for level in levels:  # innermost (base) first: outer (derived) values win
        arguments.update(level)
    return arguments


def to_hparams_dict(config: Any) -> AttributeDict:
    """A config object as the hparams mapping; a clear ValueError for what cannot be one."""
    if isinstance(config, Namespace):
        config = vars(config)
    if isinstance(config, _PRIMITIVES):
        raise ValueError(
            f"Primitives {tuple(t.__name__ for t in _PRIMITIVES)} are not allowed as"
            f" hyperparameters: got {config!r}. Pass argument names as strings, a dict or a"
            " Namespace."
        )
    if not isinstance(config, Mapping):
        raise ValueError(
            f"Unsupported config type of {type(config).__name__}: save_hyperparameters takes a"
            " dict, an argparse.Namespace or names of __init__ arguments."
        )
    return AttributeDict(config)


class HyperparametersMixin:
    """``save_hyperparameters``, ``hparams`` and ``hparams_initial`` (LightningModule and
    LightningDataModule)."""

    __jit_unused_properties__: list[str] = ["hparams", "hparams_initial"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._log_hyperparams = False

    def save_hyperparameters(
        self,
        *args: Any,
        ignore: Sequence[str] | str | None = None,
        frame: types.FrameType | None = None,
        logger: bool = True,
    ) -> None:
        """Store ``__init__`` arguments in ``self.hparams`` (see the module docstring).

        ``logger=False`` keeps them out of the loggers (no ``hparams.yaml``).
        """
        self._log_hyperparams = logger
        if len(args) == 1 and not isinstance(args[0], str) and not args[0]:
            return  # an empty container: nothing to save
        if frame is None:
            caller = inspect.currentframe()
            frame = caller.f_back if caller is not None else None
        if frame is None:
            raise RuntimeError("save_hyperparameters needs the calling frame; none is available")
        init_args = collect_init_arguments(self, frame)
        if isinstance(ignore, str):
            ignore = [ignore]
        ignored = [name for name in ignore or () if isinstance(name, str)]
        init_args = {k: v for k, v in init_args.items() if k not in ignored}

        configs = [arg for arg in args if not isinstance(arg, str)]
        if not args:
            hparams: MutableMapping[str, Any] = init_args
            self._hparams_name = "kwargs" if hparams else None
        elif len(configs) == 1:
            hparams = to_hparams_dict(configs[0])
            # the init argument holding the config, so that loading can pass it back the same way
            names = [k for k, v in init_args.items() if _same(v, configs[0])]
            self._hparams_name = names[0] if names else None
        else:
            unknown = [a for a in args if isinstance(a, str) and a not in init_args]
            if unknown:
                raise ValueError(
                    f"save_hyperparameters: {unknown} are not arguments of"
                    f" {type(self).__name__}.__init__ (it takes {sorted(init_args)})"
                )
            hparams = {name: init_args[name] for name in args if isinstance(name, str)}
            self._hparams_name = "kwargs"

        self.hparams.update(to_hparams_dict(hparams))
        for name in ignored:  # also drop what a base class's earlier call saved
            self.hparams.pop(name, None)
        for key, value in self.hparams.items():
            if _is_module(value):
                warn(
                    f"Attribute {key!r} is an instance of `nn.Module` and is already saved during"
                    " checkpointing. It is recommended to ignore them using"
                    f" `self.save_hyperparameters(ignore=[{key!r}])`."
                )
        self._hparams_initial = copy.deepcopy(self.hparams)

    @property
    def hparams(self) -> AttributeDict:
        """The saved hyperparameters; mutable (a tuner may change them)."""
        if "_hparams" not in self.__dict__:
            object.__setattr__(self, "_hparams", AttributeDict())
        return self.__dict__["_hparams"]

    @property
    def hparams_initial(self) -> AttributeDict:
        """The hyperparameters as saved, as a fresh copy each time (changing it changes nothing)."""
        initial = self.__dict__.get("_hparams_initial")
        return AttributeDict() if initial is None else copy.deepcopy(initial)


def _same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    try:
        return bool(a == b)
    except Exception:  # e.g. tensors: == is elementwise, and no config is a tensor
        return False


def _is_module(value: Any) -> bool:
    from torch.nn import Module

    return isinstance(value, Module)
