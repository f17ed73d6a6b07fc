"""Golden hook traces for users' CI: record the hooks your own LightningModule (and callbacks)
receive under a Trainer configuration, commit the trace, and fail a test when it changes.

Recording goes through public hook overrides only: at run time your class is wrapped in a
recording subclass (:mod:`conformance.kit.recording`) that appends each hook call on entry and
then calls your implementation, so your code runs unchanged. Events name their owner: ``M`` is the
module, ``CB0``, ``CB1``… the callbacks in the order given, ``DM`` a DataModule.

From the command line::

    trainspec record --target pytorch_lightning --model my_pkg.models:MyModule \\
        --trainer-args '{"max_epochs": 1, "limit_train_batches": 2}' -o golden/mymodule.json

In a test (``pytest --trainspec-update-golden`` rewrites the files instead of comparing)::

    def test_hooks_unchanged(hook_trace_golden):
        hook_trace_golden(MyModule(), {"max_epochs": 1, "limit_train_batches": 2},
                          "golden/mymodule.json")

or without the fixture: :func:`assert_hook_trace_matches`.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import tempfile
import traceback
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from conformance.target import Target, TargetLoadError, load_target

GOLDEN_FORMAT = 1
STAGES = ("fit", "validate", "test", "predict")


class GoldenTraceMismatch(AssertionError):
    """The recorded hook trace differs from the golden file (the message holds a diff)."""


def _target(target: Target | str | None) -> Target:
    return target if isinstance(target, Target) else load_target(target)


@contextmanager
def _recording_instance(obj: Any, recording_cls: type) -> Iterator[Any]:
    """Let an existing instance record by switching it to the recording subclass for the run;
    its own class is put back afterwards (the caller's object is left as it was)."""
    original = obj.__class__
    obj.__class__ = recording_cls
    try:
        yield obj
    finally:
        obj.__class__ = original


def record_trace(
    target: Target | str | None,
    model: Any,
    trainer_kwargs: Mapping[str, Any],
    *,
    callbacks: Sequence[Any] = (),
    datamodule: Any = None,
    stage: str = "fit",
    root_dir: str | os.PathLike[str] | None = None,
) -> list[str]:
    """Run ``stage`` with recording copies of ``model`` and ``callbacks``; return the events.

    ``model``, each callback and ``datamodule`` may be an instance (recorded in place, restored
    afterwards) or a class (built without arguments). The Trainer gets the target's quiet
    defaults (no logger, progress bar, checkpointing or summary) overridden by
    ``trainer_kwargs``, and ``root_dir`` (a temporary directory by default).
    """
    from conformance.kit.recording import (
        Trace,
        recording_callback_class,
        recording_datamodule,
        recording_module,
    )

    if stage not in STAGES:
        raise ValueError(f"stage must be one of {', '.join(STAGES)}, not {stage!r}")
    target = _target(target)
    trace = Trace()
    model = model() if isinstance(model, type) else model
    if not isinstance(model, target.LightningModule):
        raise TypeError(
            f"{type(model).__qualname__} is not a subclass of {target.spec}.LightningModule"
        )
    with tempfile.TemporaryDirectory(prefix="trainspec-golden-") as tmp:
        with ExitStack() as stack:
            stack.enter_context(
                _recording_instance(model, recording_module(target, type(model), trace))
            )
            recorded_callbacks = []
            for index, callback in enumerate(callbacks):
                callback = callback() if isinstance(callback, type) else callback
                cls = recording_callback_class(target, trace, f"CB{index}", type(callback))
                recorded_callbacks.append(stack.enter_context(_recording_instance(callback, cls)))
            kwargs: dict[str, Any] = {}
            if datamodule is not None:
                datamodule = datamodule() if isinstance(datamodule, type) else datamodule
                dm_cls = recording_datamodule(target, type(datamodule), trace, batch_transfer=False)
                kwargs["datamodule"] = stack.enter_context(_recording_instance(datamodule, dm_cls))
            flags = dict(trainer_kwargs)
            flags["callbacks"] = [*flags.get("callbacks", []), *recorded_callbacks]
            trainer = target.trainer(root_dir or tmp, **flags)
            getattr(trainer, stage)(model, **kwargs)
    return list(trace.events)


def golden_document(target: Target, events: list[str], config: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "format": GOLDEN_FORMAT,
        "target": {"spec": target.spec, "name": target.name, "version": target.version},
        **config,
        "events": events,
    }


def write_golden(path: str | os.PathLike[str], document: Mapping[str, Any]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path


def read_golden(path: str | os.PathLike[str]) -> dict[str, Any]:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"golden trace {path} is not valid JSON: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("events"), list):
        raise ValueError(f"golden trace {path} has no 'events' list: not a trainspec golden file")
    return document


def _describe(value: Any) -> str:
    return (
        value if isinstance(value, str) else f"{type(value).__module__}.{type(value).__qualname__}"
    )


def assert_hook_trace_matches(
    model: Any,
    trainer_kwargs: Mapping[str, Any],
    golden_path: str | os.PathLike[str],
    update: bool = False,
    *,
    target: Target | str | None = None,
    callbacks: Sequence[Any] = (),
    datamodule: Any = None,
    stage: str = "fit",
) -> list[str]:
    """Record the hook trace and compare it with ``golden_path`` (or rewrite it if ``update``).

    Raises :class:`GoldenTraceMismatch` (an ``AssertionError``) with a unified diff when the trace
    changed, or when the golden file is missing or was recorded with other Trainer arguments.
    Returns the recorded events.
    """
    __tracebackhide__ = True  # pytest shows the caller's line and the diff, not this body
    from conformance.spec.trace import trace_diff

    resolved = _target(target)
    events = record_trace(
        resolved, model, trainer_kwargs, callbacks=callbacks, datamodule=datamodule, stage=stage
    )
    config = {"stage": stage, "trainer_kwargs": _jsonable(trainer_kwargs)}
    path = Path(golden_path)
    if update:
        write_golden(path, golden_document(resolved, events, config))
        return events
    if not path.exists():
        raise GoldenTraceMismatch(
            f"golden trace {path} does not exist; record it with pytest --trainspec-update-golden "
            f"(or assert_hook_trace_matches(..., update=True))"
        )
    golden = read_golden(path)
    for key, value in config.items():
        if key in golden and golden[key] != value:
            raise GoldenTraceMismatch(
                f"golden trace {path} was recorded with {key}={golden[key]!r}, this test uses "
                f"{value!r}; re-record it with pytest --trainspec-update-golden"
            )
    if golden["events"] != events:
        raise GoldenTraceMismatch(
            f"the hook trace of {_describe(model)} changed (golden file {path}; "
            "re-record with pytest --trainspec-update-golden if the change is intended)\n"
            + trace_diff(
                golden["events"], events, expected_name=f"golden {path}", actual_name="recorded now"
            )
        )
    return events


def _jsonable(value: Mapping[str, Any]) -> dict[str, Any]:
    """Trainer arguments as stored in the golden file (objects such as callbacks by type name)."""
    return json.loads(json.dumps(dict(value), default=_describe))


def _import_object(spec: str, what: str) -> Any:
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"{what} must look like 'my_pkg.module:ClassName', not {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m` would: your project's modules import
    module = importlib.import_module(module_name)
    obj: Any = module
    for part in attribute.split("."):
        obj = getattr(obj, part)
    return obj


def record_command(
    *,
    target: str | None,
    model: str,
    model_kwargs: Mapping[str, Any],
    callbacks: Iterable[str],
    trainer_kwargs: Mapping[str, Any],
    stage: str,
    output: str,
) -> int:
    """``trainspec record``: write a golden trace file; 2 with a message if anything is wrong.

    Bad arguments are one line. An exception from the recorded run is most likely the user's own
    code, so its traceback is shown, then one line saying that nothing was written."""
    try:
        resolved = load_target(target)
        model_cls = _import_object(model, "--model")
        callback_objects = [_import_object(spec, "--callback")() for spec in callbacks]
        instance = model_cls(**model_kwargs)
    except (TargetLoadError, ImportError, AttributeError, ValueError, TypeError) as exc:
        print(f"trainspec record: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    try:
        events = record_trace(
            resolved, instance, trainer_kwargs, callbacks=callback_objects, stage=stage
        )
    except Exception as exc:
        traceback.print_exc()
        print(
            f"trainspec record: {stage} of {model} under {resolved.spec} raised "
            f"{type(exc).__name__}: {exc}; no golden file written",
            file=sys.stderr,
        )
        return 2
    config = {
        "model": model,
        "model_kwargs": dict(model_kwargs),
        "callbacks": list(callbacks),
        "stage": stage,
        "trainer_kwargs": _jsonable(trainer_kwargs),
    }
    try:
        path = write_golden(output, golden_document(resolved, events, config))
    except OSError as exc:
        print(f"trainspec record: cannot write {output}: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(events)} hook events of {model} ({stage}) to {path}")
    return 0
