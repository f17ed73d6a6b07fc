"""Certificates rendered as Markdown, side by side (``trainspec report``).

Used to publish results (``docs/results.md``) from the JSON certificates that ``trainspec
certify --json`` writes, so the published numbers are never typed by hand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from conformance.outcomes import STATUSES

Certificate = Mapping[str, Any]

_SHORT = {
    "passed": "pass",
    "failed": "FAIL",
    "errored": "ERROR",
    "deviation": "dev",
    "not_run": "n/r",
}


def _target(cert: Certificate) -> str:
    # the devices found tell apart two certificates of one target (e.g. with and without XLA)
    found = ", ".join(d for d, n in cert["environment"]["devices"].items() if n)
    return f"`{cert['target']['spec']}` {cert['target']['version']} ({found})"


def _verdict(cert: Certificate) -> str:
    summary = cert["summary"]
    counts = ", ".join(f"{summary[s]} {s.replace('_', ' ')}" for s in STATUSES if summary[s])
    word = "**conforms**" if cert["conforms"] else "**does not conform**"
    return f"{word} ({counts}; {summary['total']} clauses)"


def _family_counts(cert: Certificate) -> dict[str, dict[str, int]]:
    families: dict[str, dict[str, int]] = {}
    for clause in cert["clauses"]:
        counts = families.setdefault(clause["family"], {s: 0 for s in STATUSES})
        counts[clause["status"]] += 1
    return families


def _compact(counts: Mapping[str, int] | None) -> str:
    if not counts:
        return "—"
    return " · ".join(f"{counts[s]} {_SHORT[s]}" for s in STATUSES if counts[s])


def _overview(certs: Sequence[Certificate]) -> list[str]:
    lines = [
        "| target | verdict | torch | devices found | hypothesis | duration |",
        "|---|---|---|---|---|---|",
    ]
    for cert in certs:
        env = cert["environment"]
        devices = ", ".join(d for d, n in env["devices"].items() if n)
        lines.append(
            f"| {_target(cert)} | {_verdict(cert)} | {env['torch']} | {devices} | "
            f"{cert['hypothesis'].get('profile')} | {cert['duration_s']:.0f} s |"
        )
    return lines


def _families(certs: Sequence[Certificate]) -> list[str]:
    per_cert = [_family_counts(cert) for cert in certs]
    names = sorted({name for counts in per_cert for name in counts})
    header = "| family | " + " | ".join(_target(c) for c in certs) + " |"
    lines = [header, "|---|" + "---|" * len(certs)]
    for name in names:
        lines.append(f"| {name} | " + " | ".join(_compact(c.get(name)) for c in per_cert) + " |")
    return lines


def _matrix(cert: Certificate) -> list[str]:
    matrix = cert.get("matrix") or {}
    cells = matrix.get("cells") or {}
    if not cells:
        return []
    precisions = matrix["precisions"]
    lines = [
        f"Device × precision matrix for {_target(cert)} (clause results per cell):",
        "",
        "| device | " + " | ".join(precisions) + " |",
        "|---|" + "---|" * len(precisions),
    ]
    for device in matrix["devices"]:
        row = cells.get(device, {})
        labels = []
        for precision in precisions:
            cell = row.get(precision)
            labels.append("—" if cell is None else _compact(cell))
        lines.append(f"| {device} | " + " | ".join(labels) + " |")
    return [*lines, ""]


def _deviations(cert: Certificate) -> list[str]:
    declared = [c for c in cert["clauses"] if c["status"] == "deviation"]
    if not declared:
        return []
    lines = [f"Declared deviations of {_target(cert)}:", ""]
    for clause in declared:
        reasons = sorted({r["deviation"]["reason"] for r in clause["results"] if r["deviation"]})
        links = sorted(
            {r["deviation"].get("link") for r in clause["results"] if r["deviation"]} - {None, ""}
        )
        link = f" ({', '.join(links)})" if links else ""
        why = "; ".join(reasons)
        lines.append(f"- **{clause['id']}** ({clause['level']}) {clause['title']} — {why}{link}")
    return [*lines, ""]


def _broken(cert: Certificate) -> list[str]:
    broken = [c for c in cert["clauses"] if c["status"] in ("failed", "errored")]
    if not broken:
        return []
    lines = [f"Failed or errored clauses of {_target(cert)}:", ""]
    lines += [f"- **{c['id']}** {c['status']}: {c['message']}" for c in broken]
    return [*lines, ""]


def _not_run(cert: Certificate) -> list[str]:
    reasons: dict[str, list[str]] = {}
    for clause in cert["clauses"]:
        if clause["status"] == "not_run":
            reasons.setdefault(clause["message"] or "skipped", []).append(clause["id"])
    if not reasons:
        return []
    lines = [f"Not run for {_target(cert)}:", ""]
    for reason, ids in sorted(reasons.items()):
        lines.append(f"- {', '.join(ids)}: {reason}")
    return [*lines, ""]


def render(certs: Sequence[Certificate], *, title: str = "Certification results") -> str:
    """One Markdown document comparing ``certs`` (one column per certificate)."""
    if not certs:
        raise ValueError("no certificates to render")
    lines = [f"# {title}", ""]
    lines += [
        "Generated by `trainspec report` from the JSON certificates of `trainspec certify --json`;",
        "do not edit by hand. Counts are clauses (a parametrized clause counts once). "
        "`dev` = declared deviation, `n/r` = not run.",
        "",
        *_overview(certs),
        "",
        "## Per clause family",
        "",
        *_families(certs),
        "",
    ]
    details: list[str] = []
    for cert in certs:
        details += _matrix(cert) + _broken(cert) + _deviations(cert) + _not_run(cert)
    if details:
        lines += ["## Details", "", *details]
    return "\n".join(lines).rstrip() + "\n"
