"""Loading a *target*: the trainer implementation under certification.

A target is named by an import path, optionally with an attribute: ``reference``,
``pytorch_lightning``, ``lightning.pytorch``, ``my_pkg.adapter`` or ``my_pkg.adapter:NAMESPACE``.
It must expose ``Trainer``, ``LightningModule`` and ``Callback``; ``LightningDataModule`` and
``seed_everything`` are used where present.

A target may declare what it supports in a ``TRAINSPEC`` mapping (all keys optional)::

    TRAINSPEC = {
        "name": "my-trainer",            # shown in certificates
        "devices": ["cpu", "cuda"],       # accelerators it claims; others are probed
        "precisions": ["32-true", "bf16-mixed"],
        "strategies": ["auto"],
        "profile": "2.x",                 # or "legacy" for the 0.9/1.x contract
        "deviations": "path/to/deviations.toml",  # relative to the target's module file
    }

Undeclared things are probed at run time: a target is assumed to support every device the
machine has (:func:`device_probe`, the one probe the whole suite uses) and every precision; a
clause that needs something the target lacks calls :meth:`Target.require`, which skips it
(``not_run``) with the reason.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

REQUIRED_NAMES = ("Trainer", "LightningModule", "Callback")
PROFILES = ("2.x", "legacy")
DEFAULT_TARGET = "reference"
ENV_VAR = "TRAINSPEC_TARGET"

# Deviations files shipped with the suite for well-known targets (conformance/deviations/).
_SHIPPED_DEVIATIONS = {
    "pytorch_lightning": "pytorch_lightning.toml",
    "lightning.pytorch": "pytorch_lightning.toml",
    "lightning": "pytorch_lightning.toml",
}


# Names a TRAINSPEC declaration may use for the suite's devices and precisions.
DEVICE_ALIASES: Mapping[str, str] = {"gpu": "cuda", "tpu": "xla"}
PRECISION_ALIASES: Mapping[str, str] = {
    "64": "64-true",
    "32": "32-true",
    "16": "16-mixed",
    "bf16": "bf16-mixed",
}


class TargetLoadError(Exception):
    """The target could not be imported or lacks a required name."""


@dataclass
class Declaration:
    """What a target says about itself (from its ``TRAINSPEC`` mapping)."""

    name: str | None = None
    devices: tuple[str, ...] | None = None
    precisions: tuple[str, ...] | None = None
    strategies: tuple[str, ...] | None = None
    profile: str = "2.x"
    deviations: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def claimed_devices(self) -> set[str] | None:
        """The declared devices in the suite's names (``gpu`` is ``cuda``, ``tpu`` is ``xla``);
        None when the target declares none (then every device counts as claimed)."""
        return _in_suite_names(self.devices, DEVICE_ALIASES)

    def claimed_precisions(self) -> set[str] | None:
        """The declared precisions in the suite's names (``16`` is ``16-mixed``, ...); None when
        the target declares none."""
        return _in_suite_names(self.precisions, PRECISION_ALIASES)


def _in_suite_names(values: tuple[str, ...] | None, aliases: Mapping[str, str]) -> set[str] | None:
    if values is None:
        return None
    return {aliases.get(v.strip(), v.strip()) for v in values}


@dataclass(repr=False)
class Target:
    """A loaded target: its classes, version and declaration."""

    spec: str
    name: str
    version: str
    namespace: Any
    Trainer: type
    LightningModule: type
    Callback: type
    LightningDataModule: type | None
    seed_everything: Any | None
    declaration: Declaration

    # Flags that keep a clause's run quiet, local and deterministic. Clauses that are *about* one
    # of these (the progress bar, checkpointing, a device) pass it explicitly.
    QUIET_FLAGS: Mapping[str, Any] = field(
        default_factory=lambda: {
            "accelerator": "cpu",
            "devices": 1,
            "logger": False,
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "enable_checkpointing": False,
        }
    )

    def trainer(self, default_root_dir: str | os.PathLike[str], **flags: Any) -> Any:
        """A ``Trainer`` with the quiet defaults, overridden by ``flags``."""
        kwargs = {**self.QUIET_FLAGS, "default_root_dir": str(default_root_dir), **flags}
        return self.Trainer(**kwargs)

    @property
    def deviations_path(self) -> Path | None:
        return self.declaration.deviations

    def unsupported_reason(
        self,
        *,
        device: str | None = None,
        precision: str | None = None,
        strategy: str | None = None,
        profile: str | None = None,
    ) -> str | None:
        """Why a clause needing these cannot run here (``None`` when it can).

        The machine must have the device; the target must not have declared a list that leaves
        the device, precision or strategy out; the clause's profile must be the target's.
        """
        declared = self.declaration
        if device is not None:
            kind = device.split(":")[0]
            if not device_counts().get(kind):
                return f"no {kind} device on this machine"
            claimed = declared.claimed_devices()
            if claimed is not None and DEVICE_ALIASES.get(kind, kind) not in claimed:
                return f"target {self.name} does not declare device {kind!r}"
        claimed = declared.claimed_precisions()
        if precision is not None and claimed is not None:
            if PRECISION_ALIASES.get(str(precision), str(precision)) not in claimed:
                return f"target {self.name} does not declare precision {precision!r}"
        if strategy is not None and declared.strategies is not None:
            if strategy not in declared.strategies:
                return f"target {self.name} does not declare strategy {strategy!r}"
        if profile is not None and profile != declared.profile:
            return f"clause applies to profile {profile!r}; target declares {declared.profile!r}"
        return None

    def require(self, **needs: str | None) -> None:
        """Skip the running clause (status ``not_run``) unless :meth:`unsupported_reason` is None.

        Keywords: ``device``, ``precision``, ``strategy``, ``profile``.
        """
        reason = self.unsupported_reason(**needs)
        if reason is not None:
            import pytest  # imported here: loading a target must not need pytest

            pytest.skip(reason)

    def describe(self) -> str:
        return f"{self.name} {self.version} ({self.spec})"

    def __repr__(self) -> str:
        # Short, because hypothesis prints its test's arguments (this fixture among them) in
        # every failing example.
        return f"<target {self.describe()}>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))  # hypothesis' pretty printer would otherwise list every field


def xla_configured() -> bool:
    """torch_xla is installed and ``PJRT_DEVICE`` names a runtime (TPU, CPU, CUDA): without
    the variable torch_xla has no device to offer, so XLA counts as absent."""
    return bool(os.environ.get("PJRT_DEVICE")) and importlib.util.find_spec("torch_xla") is not None


def start_xla_runtime() -> None:
    """Start a configured XLA runtime before any clause runs.

    The XLA runtime must start before the process's first CPU ``backward()``, or every later XLA
    backward fails (``device_ready_queues_`` assertion, torch_xla 2.9). Clauses train on the CPU
    before they reach XLA cells, so the session starts it first, whatever the target does.
    """
    if not xla_configured():
        return
    try:
        from torch_xla import runtime

        runtime.addressable_runtime_device_count()
    except Exception:  # a broken install shows up in the XLA cells themselves
        pass


@functools.cache
def device_probe() -> Mapping[str, str | None]:
    """For each device type, None if this machine has it, else why it is absent.

    Probed once per process; the matrix's cells, :meth:`Target.require`, the report header and
    the certificate all read this one probe, so they never disagree about the hardware.
    """
    import torch  # imported lazily: the plugin must not pull torch into unrelated sessions

    found: dict[str, str | None] = {"cpu": None}
    found["cuda"] = (
        None
        if torch.cuda.is_available()
        else "cuda not available: torch.cuda.is_available() is False"
    )
    mps = getattr(torch.backends, "mps", None)
    found["mps"] = (
        None
        if mps is not None and mps.is_available()
        else "mps not available: torch.backends.mps.is_available() is False"
    )
    if xla_configured():
        found["xla"] = None
    elif importlib.util.find_spec("torch_xla") is None:
        found["xla"] = "xla not available: torch_xla is not installed"
    else:
        found["xla"] = "xla not available: torch_xla is installed but PJRT_DEVICE is not set"
    return found


def device_counts() -> dict[str, int]:
    """How many devices of each type :func:`device_probe` found (``cpu`` is always 1)."""
    import torch

    counts = {kind: int(absent is None) for kind, absent in device_probe().items()}
    if counts["cuda"]:
        counts["cuda"] = torch.cuda.device_count()
    return counts


def _import(spec: str) -> tuple[ModuleType, Any]:
    module_name, _, attribute = spec.partition(":")
    if not module_name:
        raise TargetLoadError(f"empty target specification {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except (Exception, SystemExit) as exc:  # any import-time failure is the target's
        raise TargetLoadError(
            f"cannot import target {spec!r}: {type(exc).__name__}: {exc}"
        ) from exc
    namespace: Any = module
    if attribute:
        for part in attribute.split("."):
            try:
                namespace = getattr(namespace, part)
            except AttributeError as exc:
                raise TargetLoadError(
                    f"target {spec!r}: module {module_name!r} has no attribute {attribute!r}"
                ) from exc
    return module, namespace


def _version_of(module: ModuleType, namespace: Any) -> str:
    for obj in (namespace, module):
        version = getattr(obj, "__version__", None)
        if isinstance(version, str):
            return version
    top = module.__name__.split(".")[0]
    try:
        return importlib.metadata.version(top.replace("_", "-"))
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _declaration(spec: str, module: ModuleType, namespace: Any) -> Declaration:
    raw = getattr(namespace, "TRAINSPEC", None) or getattr(module, "TRAINSPEC", None) or {}
    if not isinstance(raw, Mapping):
        raise TargetLoadError(f"target {spec!r}: TRAINSPEC must be a mapping, not {type(raw)}")

    def _tuple(key: str) -> tuple[str, ...] | None:
        value = raw.get(key)
        return None if value is None else tuple(str(v) for v in value)

    deviations: Path | None = None
    if raw.get("deviations"):
        base = Path(getattr(module, "__file__", ".") or ".").parent
        deviations = (base / str(raw["deviations"])).resolve()
    else:
        module_name = spec.partition(":")[0]
        shipped = _SHIPPED_DEVIATIONS.get(module_name)
        if shipped:
            deviations = Path(__file__).parent / "deviations" / shipped
    profile = str(raw.get("profile", "2.x"))
    if profile not in PROFILES:
        raise TargetLoadError(
            f"target {spec!r}: TRAINSPEC profile must be one of {', '.join(PROFILES)}, "
            f"not {profile!r}"
        )
    for key in ("devices", "precisions", "strategies"):
        value = raw.get(key)
        if value is not None and (isinstance(value, str) or not isinstance(value, list | tuple)):
            raise TargetLoadError(
                f"target {spec!r}: TRAINSPEC[{key!r}] must be a list of strings, not {value!r}"
            )
    known = {"name", "devices", "precisions", "strategies", "profile", "deviations"}
    return Declaration(
        name=raw.get("name"),
        devices=_tuple("devices"),
        precisions=_tuple("precisions"),
        strategies=_tuple("strategies"),
        profile=profile,
        deviations=deviations,
        extra={k: v for k, v in raw.items() if k not in known},
    )


def resolve_spec(spec: str | None) -> str:
    """The target to use: the explicit one, else ``$TRAINSPEC_TARGET``, else ``reference``."""
    return spec or os.environ.get(ENV_VAR) or DEFAULT_TARGET


def load_target(spec: str | None = None) -> Target:
    """Import and check a target; raise :class:`TargetLoadError` with one clear message."""
    spec = resolve_spec(spec)
    module, namespace = _import(spec)
    missing = [name for name in REQUIRED_NAMES if getattr(namespace, name, None) is None]
    if missing:
        raise TargetLoadError(
            f"target {spec!r} does not expose {', '.join(missing)}; a target must expose "
            f"{', '.join(REQUIRED_NAMES)} (write a small adapter module if its API differs)"
        )
    # Clauses subclass these two, so they must be classes (Trainer may be any callable).
    not_classes = [
        name
        for name in ("LightningModule", "Callback")
        if not isinstance(getattr(namespace, name), type)
    ]
    if not_classes:
        raise TargetLoadError(
            f"target {spec!r}: {', '.join(not_classes)} must be a class (clauses subclass it)"
        )
    if not callable(namespace.Trainer):
        raise TargetLoadError(f"target {spec!r}: Trainer must be callable")
    declaration = _declaration(spec, module, namespace)
    return Target(
        spec=spec,
        name=declaration.name or spec.partition(":")[0],
        version=_version_of(module, namespace),
        namespace=namespace,
        Trainer=namespace.Trainer,
        LightningModule=namespace.LightningModule,
        Callback=namespace.Callback,
        LightningDataModule=getattr(namespace, "LightningDataModule", None),
        seed_everything=getattr(namespace, "seed_everything", None),
        declaration=declaration,
    )
