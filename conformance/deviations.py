"""Declared deviations: the clauses a target knowingly breaks, each with a reason (a TOML file).

One entry per clause (or per clause and condition)::

    [[deviation]]
    clause = "RESUME-EXACT-001"
    reason = "why the target knowingly breaks it"       # mandatory
    link = "https://github.com/..."                     # optional
    [deviation.when]                                    # optional; every condition must hold
    device = "cuda"               # a parameter of the clause's test (its parametrize argname)
    precision = ["16-mixed", "bf16-mixed"]              # a list means any of these values
    torch = "<2.5"                # PEP 440 specifier on torch's version
    target_version = ">=2.6"      # PEP 440 specifier on the target's version

A file that is not in this shape is rejected whole (:class:`DeviationsError`): a certificate must
never rest on a half-read file. Entries that are well-formed but name no registered clause, or
a parameter the clause does not have, are *problems*: reported, and they fail ``certify``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from conformance.registry import CLAUSE_ID

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

ENTRY_KEYS = frozenset({"clause", "reason", "link", "when"})
# Conditions on versions rather than on the clause's test parameters.
VERSION_CONDITIONS = ("torch", "target_version")


class DeviationsError(Exception):
    """The deviations file cannot be used as it is (syntax, shape, a missing reason...)."""


@dataclass(frozen=True)
class Deviation:
    """One declared deviation: a clause (under conditions) that the target knowingly breaks."""

    clause: str
    reason: str
    link: str | None = None
    params: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    torch: SpecifierSet | None = None
    target_version: SpecifierSet | None = None
    index: int = 0  # 1-based position in the file, for messages

    def applies(
        self,
        clause_id: str,
        params: Mapping[str, Any],
        *,
        torch_version: str | None,
        target_version: str | None,
    ) -> bool:
        """Whether this entry declares the result of ``clause_id`` run with ``params``."""
        if clause_id != self.clause:
            return False
        for name, allowed in self.params.items():
            if name not in params or _as_text(params[name]) not in allowed:
                return False
        return _version_matches(self.torch, torch_version) and _version_matches(
            self.target_version, target_version
        )

    def as_dict(self) -> dict[str, Any]:
        when: dict[str, Any] = {k: list(v) for k, v in self.params.items()}
        if self.torch is not None:
            when["torch"] = str(self.torch)
        if self.target_version is not None:
            when["target_version"] = str(self.target_version)
        return {"clause": self.clause, "reason": self.reason, "link": self.link, "when": when}


@dataclass
class DeviationsFile:
    """The parsed file (``path`` is None when the target has no deviations file)."""

    path: Path | None
    entries: list[Deviation] = field(default_factory=list)

    def match(
        self,
        clause_id: str,
        params: Mapping[str, Any],
        *,
        torch_version: str | None,
        target_version: str | None,
    ) -> Deviation | None:
        """The first entry that declares this clause run with these parameters, if any."""
        for entry in self.entries:
            if entry.applies(
                clause_id, params, torch_version=torch_version, target_version=target_version
            ):
                return entry
        return None

    def problems(
        self,
        known_clauses: Iterable[str],
        values_of: Mapping[str, Mapping[str, Iterable[str]]],
        *,
        target_version: str | None = None,
    ) -> list[str]:
        """Entries that can never apply: an unknown clause, a condition on a parameter that the
        clause's test does not have or on none of the values it runs with (``values_of``: clause
        ID → parameter → those values; no values: not checked), or (given the target's
        ``target_version``) a ``target_version`` condition on a target whose version is no
        PEP 440 version.
        """
        known = set(known_clauses)
        found: list[str] = []
        for entry in self.entries:
            where = f"{self.path or '<deviations>'} entry {entry.index} ({entry.clause})"
            if entry.clause not in known:
                found.append(f"{where}: no registered clause has ID {entry.clause!r}")
                continue
            seen = values_of.get(entry.clause, {})
            for name, allowed in entry.params.items():
                if name not in seen:
                    has = ", ".join(sorted(seen)) or "none"
                    found.append(
                        f"{where}: condition {name!r} is not a parameter of the clause "
                        f"(its parameters: {has})"
                    )
                elif seen[name] and not set(allowed) & set(seen[name]):
                    wanted = allowed[0] if len(allowed) == 1 else list(allowed)
                    found.append(
                        f"{where}: condition {name}={wanted!r} matches none of the values the "
                        f"clause runs with ({', '.join(sorted(seen[name]))})"
                    )
            if entry.target_version is not None and target_version is not None:
                if not _is_version(target_version):
                    found.append(
                        f"{where}: condition 'target_version' cannot be checked: the target's "
                        f"version {target_version!r} is not a PEP 440 version (set __version__ "
                        "in the target module)"
                    )
        return found


def _as_text(value: Any) -> str:
    """Parameter values compare as text, so TOML ``true`` matches a ``True`` parameter."""
    return str(value)


def _is_version(text: str) -> bool:
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


def _version_matches(spec: SpecifierSet | None, version: str | None) -> bool:
    if spec is None:
        return True
    if version is None:
        return False
    try:
        return spec.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return False


def _fail(where: str, problem: str) -> DeviationsError:
    return DeviationsError(f"{where}: {problem}")


def _specifier(where: str, key: str, value: Any) -> SpecifierSet:
    if not isinstance(value, str):
        raise _fail(where, f"when.{key} must be a PEP 440 specifier string like '<2.5'")
    try:
        return SpecifierSet(value)
    except InvalidSpecifier as exc:
        raise _fail(where, f"when.{key} = {value!r} is not a PEP 440 specifier") from exc


def _entry(where: str, index: int, raw: Any) -> Deviation:
    if not isinstance(raw, dict):
        raise _fail(where, "each [[deviation]] must be a table")
    unknown = set(raw) - ENTRY_KEYS
    if unknown:
        allowed = ", ".join(sorted(ENTRY_KEYS))
        raise _fail(where, f"unknown key(s) {', '.join(sorted(unknown))}; allowed: {allowed}")
    clause_id = raw.get("clause")
    if not isinstance(clause_id, str) or not CLAUSE_ID.match(clause_id):
        raise _fail(where, f"'clause' must be a clause ID like 'OPT-002', not {clause_id!r}")
    reason = raw.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise _fail(where, f"{clause_id}: 'reason' is mandatory (say why the target breaks it)")
    link = raw.get("link")
    if link is not None and not isinstance(link, str):
        raise _fail(where, f"{clause_id}: 'link' must be a string")
    when = raw.get("when", {})
    if not isinstance(when, dict):
        raise _fail(where, f"{clause_id}: 'when' must be a table of conditions")
    params: dict[str, tuple[str, ...]] = {}
    versions: dict[str, SpecifierSet] = {}
    for key, value in when.items():
        if key in VERSION_CONDITIONS:
            versions[key] = _specifier(where, key, value)
        elif (
            isinstance(value, list)
            and value
            and all(isinstance(v, str | int | float | bool) for v in value)
        ):
            params[key] = tuple(_as_text(v) for v in value)
        elif isinstance(value, str | int | float | bool):
            params[key] = (_as_text(value),)
        else:
            raise _fail(
                where, f"{clause_id}: when.{key} must be a value or a non-empty list of values"
            )
    return Deviation(
        clause=clause_id,
        reason=reason.strip(),
        link=link,
        params=params,
        torch=versions.get("torch"),
        target_version=versions.get("target_version"),
        index=index,
    )


def parse_deviations(text: str, path: Path | None = None) -> DeviationsFile:
    """Parse a deviations file's text; raise :class:`DeviationsError` naming the problem."""
    name = str(path) if path else "<deviations>"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DeviationsError(f"{name}: not valid TOML: {exc}") from exc
    unknown = set(data) - {"deviation"}
    if unknown:
        raise DeviationsError(
            f"{name}: unknown top-level key(s) {', '.join(sorted(unknown))}; "
            "declare each deviation in a [[deviation]] table"
        )
    raw_entries = data.get("deviation", [])
    if not isinstance(raw_entries, list):
        raise DeviationsError(f"{name}: 'deviation' must be an array of tables ([[deviation]])")
    entries = [_entry(f"{name} entry {i}", i, raw) for i, raw in enumerate(raw_entries, start=1)]
    return DeviationsFile(path=path, entries=entries)


def load_deviations(path: str | Path | None) -> DeviationsFile:
    """Read a deviations file (``None`` → no deviations declared)."""
    if path is None:
        return DeviationsFile(path=None)
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise DeviationsError(f"deviations file {path} does not exist") from exc
    except OSError as exc:
        raise DeviationsError(f"cannot read deviations file {path}: {exc}") from exc
    return parse_deviations(text, path)
