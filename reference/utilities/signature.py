"""Questions about the user's overrides, answered once per run (never per batch)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any


def is_overridden(name: str, instance: Any, parent: type) -> bool:
    """Whether ``instance.name`` is something other than ``parent.name``.

    A hook assigned on the instance itself counts as an override, as does a method defined on
    any class between ``type(instance)`` and ``parent``.
    """
    if instance is None:
        return False
    if name in getattr(instance, "__dict__", {}):
        return True
    own = getattr(type(instance), name, None)
    inherited = getattr(parent, name, None)
    if inherited is None:
        return own is not None
    return own is not inherited


def is_param_in_hook_signature(
    hook: Callable, param: str, explicit: bool = False, min_args: int | None = None
) -> bool:
    """Lightning's rule for optional step arguments.

    True if ``param`` is a named positional parameter, or (unless ``explicit``) the hook takes
    ``*args``, or it has at least ``min_args`` positional parameters besides ``self``.
    """
    hook = getattr(hook, "__wrapped__", hook)
    try:
        spec = inspect.getfullargspec(hook)
    except TypeError:
        return False
    args = spec.args[1:] if inspect.ismethod(hook) else spec.args
    return (
        param in args
        or (not explicit and spec.varargs is not None)
        or (min_args is not None and len(args) >= min_args)
    )


def required_parameter(hook: Callable, param: str) -> bool:
    """Whether ``hook`` names ``param`` without a default value."""
    try:
        params = inspect.signature(hook).parameters
    except (TypeError, ValueError):
        return False
    return param in params and params[param].default is inspect.Parameter.empty
