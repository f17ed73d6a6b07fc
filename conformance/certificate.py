"""The JSON certificate: what was certified, where, and every clause's status.

Built by the plugin at the end of a clause session from two inputs: the *catalogue* (every selected
clause test: its clause, parameters and declared deviation, gathered at collection) and the
*results* (the per-phase outcomes pytest reported). Its shape is published as a JSON Schema in
``conformance/schema/certificate.schema.json``; :func:`validate` checks a certificate against it.

The exit rule lives here too (:func:`conforms`): a target conforms when no clause failed or
errored without a declaration, and the deviations file has no problems.
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conformance import outcomes

CERTIFICATE_FORMAT = 1
SCHEMA_PATH = Path(__file__).parent / "schema" / "certificate.schema.json"


def environment() -> dict[str, Any]:
    """Where the certification ran: interpreter, torch, platform and the devices found."""
    import torch

    from conformance.target import device_counts

    def version(package: str) -> str | None:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return None

    return {
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "torch": torch.__version__,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "devices": device_counts(),
        "packages": {name: version(name) for name in ("pytest", "hypothesis", "trainspec")},
    }


def _cell(nodeid: str, entry: Mapping[str, Any], phases: list[dict[str, Any]] | None) -> dict:
    if phases is None:
        result = {
            "status": "errored",
            "message": "no result: the session ended before this test ran",
        }
    else:
        result = outcomes.item_outcome(phases)
    deviation = entry.get("deviation")
    status = result["status"]
    if deviation and status in ("failed", "errored"):
        # Declared but not handled as xfail by pytest (e.g. the process crashed): still declared.
        result = {**result, "underlying": status, "status": "deviation"}
    restored = sorted({name for phase in phases or () for name in phase.get("restored", ())})
    return {
        "nodeid": nodeid,
        "param_id": entry.get("param_id"),
        "params": dict(entry.get("params") or {}),
        "status": result["status"],
        "message": result.get("message", ""),
        "underlying": result.get("underlying"),
        "duration_s": round(sum(p.get("duration", 0.0) for p in phases or ()), 3),
        "deviation": deviation,
        "stale_deviation": bool(deviation and result.get("stale")),
        "restored_state": restored,
    }


def _clause_message(cells: list[dict[str, Any]], status: str) -> str:
    for cell in cells:
        if cell["status"] == status and cell["message"]:
            prefix = f"[{cell['param_id']}] " if cell["param_id"] else ""
            return prefix + cell["message"]
    return ""


def build(
    *,
    target: Mapping[str, Any],
    environment: Mapping[str, Any],
    hypothesis: Mapping[str, Any],
    selection: Mapping[str, Any],
    catalogue: Mapping[str, Any],
    results: Mapping[str, list[dict[str, Any]]],
    deviations_file: Mapping[str, Any],
    duration_s: float,
    suite_version: str,
    started_at: str,
) -> dict[str, Any]:
    """Assemble the certificate (see the module docstring for the two inputs)."""
    infos: Mapping[str, Mapping[str, Any]] = catalogue.get("clauses", {})
    by_clause: dict[str, list[dict[str, Any]]] = {}
    for nodeid, entry in sorted(catalogue.get("cells", {}).items()):
        cell = _cell(nodeid, entry, results.get(nodeid))
        by_clause.setdefault(entry["clause"], []).append(cell)

    clauses = []
    summary = {status: 0 for status in outcomes.STATUSES}
    stale = []
    for clause_id in sorted(by_clause):
        cells = by_clause[clause_id]
        info = infos.get(clause_id, {})
        status = outcomes.aggregate(cell["status"] for cell in cells)
        summary[status] += 1
        for cell in cells:
            if cell["stale_deviation"]:
                stale.append(
                    {
                        "clause": clause_id,
                        "param_id": cell["param_id"],
                        "reason": cell["deviation"]["reason"],
                    }
                )
        parametrized = any(cell["param_id"] for cell in cells)
        clauses.append(
            {
                "id": clause_id,
                "title": info.get("title", ""),
                "level": info.get("level", "core"),
                "family": info.get("family", clause_id.rsplit("-", 1)[0]),
                "source": info.get("source", ""),
                "docs_say": info.get("docs_say"),
                "status": status,
                "message": _clause_message(cells, status),
                "results": cells,
                "matrix": (
                    {cell["param_id"]: cell["status"] for cell in cells if cell["param_id"]}
                    if parametrized
                    else None
                ),
            }
        )
    summary["total"] = len(clauses)
    certificate = {
        "format": CERTIFICATE_FORMAT,
        "suite_version": suite_version,
        "started_at": started_at,
        "duration_s": round(duration_s, 3),
        "target": dict(target),
        "environment": dict(environment),
        "hypothesis": dict(hypothesis),
        "selection": dict(selection),
        "summary": summary,
        "clauses": clauses,
        "matrix": device_matrix(clauses),
        "stale_deviations": stale,
        "deviations_file": dict(deviations_file),
    }
    certificate["conforms"] = conforms(certificate)
    return certificate


def device_matrix(clauses: list[dict[str, Any]]) -> dict[str, Any]:
    """The device × precision matrix: per cell, how many clauses ended in each status.

    A cell gathers every clause result parametrized with that ``device`` and ``precision``
    (the convention of :mod:`conformance.matrix`); its status aggregates them the way a
    clause's does (any failure shows), and ``reasons`` keeps why cells were not run.
    """
    from conformance.matrix import DEVICES, PRECISIONS

    cells: dict[str, dict[str, dict[str, Any]]] = {}
    for clause in clauses:
        for result in clause["results"]:
            device = result["params"].get("device")
            precision = result["params"].get("precision")
            if device is None or precision is None:
                continue
            cell = cells.setdefault(str(device), {}).setdefault(
                str(precision), {**{s: 0 for s in outcomes.STATUSES}, "reasons": []}
            )
            cell[result["status"]] += 1
            reason = result["message"]
            if result["status"] == "not_run" and reason and reason not in cell["reasons"]:
                cell["reasons"].append(reason)
    for by_precision in cells.values():
        for cell in by_precision.values():
            ran = {s for s in outcomes.STATUSES if cell[s]}
            cell["status"] = outcomes.aggregate(ran)
    extra_devices = sorted(set(cells) - set(DEVICES))
    extra_precisions = sorted({p for row in cells.values() for p in row} - set(PRECISIONS))
    return {
        "devices": [*DEVICES, *extra_devices],
        "precisions": [*PRECISIONS, *extra_precisions],
        "cells": cells,
    }


def conforms(certificate: Mapping[str, Any]) -> bool:
    """The exit rule: nothing failed or errored undeclared, and the deviations file is sound."""
    summary = certificate["summary"]
    problems = certificate.get("deviations_file", {}).get("problems", [])
    return summary["failed"] == 0 and summary["errored"] == 0 and not problems


def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def validate(certificate: Mapping[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` unless the certificate matches the published schema."""
    import jsonschema  # in the 'test' extra; only validation needs it

    jsonschema.validate(instance=certificate, schema=schema())


def write(certificate: Mapping[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(certificate, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(path)  # never leave a half-written certificate behind
    return path


def output_problem(path: str | Path) -> str | None:
    """Why a report cannot be written to ``path``, or None; checked before a run, not after it.
    Creates the missing parent directories (as writing would)."""
    path = Path(path)
    if path.is_dir():
        return "is a directory; name a file"
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8"):
            pass
    except OSError as exc:
        return f"cannot be written ({exc.strerror or exc})"
    if not existed:
        path.unlink()
    return None


def read(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))
