"""Human-readable views of a certificate: a table per clause family, then what needs attention.

Plain text always works (:func:`render_text`); :func:`print_report` uses ``rich`` for the table
when it is installed and the output is a terminal.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, TextIO

from conformance.outcomes import STATUSES

COLUMNS = {
    "passed": "passed",
    "failed": "failed",
    "errored": "errored",
    "deviation": "deviation",
    "not_run": "not run",
}


def family_rows(certificate: Mapping[str, Any]) -> list[tuple[str, dict[str, int]]]:
    """``(family, {status: count})`` per family in ID order, then ``("total", ...)``."""
    families: dict[str, dict[str, int]] = {}
    for clause in certificate["clauses"]:
        counts = families.setdefault(clause["family"], {s: 0 for s in STATUSES})
        counts[clause["status"]] += 1
    rows = sorted(families.items())
    total = {s: certificate["summary"][s] for s in STATUSES}
    return [*rows, ("total", total)]


def headline(certificate: Mapping[str, Any]) -> str:
    target, env = certificate["target"], certificate["environment"]
    devices = ", ".join(k for k, n in env.get("devices", {}).items() if n)
    return (
        f"trainspec {certificate['suite_version']} certificate for {target['name']} "
        f"{target['version']} ({target['spec']}); torch {env['torch']}; devices: {devices}; "
        f"hypothesis: {certificate['hypothesis'].get('profile')}"
    )


def verdict(certificate: Mapping[str, Any]) -> str:
    summary = certificate["summary"]
    problems = certificate["deviations_file"].get("problems", [])
    if certificate["conforms"]:
        return (
            f"CONFORMS: {summary['passed']} passed, {summary['deviation']} declared deviations, "
            f"{summary['not_run']} not run"
        )
    reasons = []
    if summary["failed"]:
        reasons.append(f"{summary['failed']} failed")
    if summary["errored"]:
        reasons.append(f"{summary['errored']} errored")
    if problems:
        reasons.append(f"{len(problems)} deviations-file problems")
    return "DOES NOT CONFORM: " + ", ".join(reasons)


def _table_text(certificate: Mapping[str, Any]) -> list[str]:
    rows = family_rows(certificate)
    width = max([len("family"), *(len(name) for name, _ in rows)])
    header = "family".ljust(width) + "".join(f"{COLUMNS[s]:>11}" for s in STATUSES)
    lines = [header, "-" * len(header)]
    for name, counts in rows:
        if name == "total":
            lines.append("-" * len(header))
        lines.append(name.ljust(width) + "".join(f"{counts[s]:>11}" for s in STATUSES))
    return lines


CELL_LABELS = {
    "passed": "pass",
    "failed": "FAIL",
    "errored": "ERROR",
    "deviation": "deviation",
    "not_run": "not run",
}


def matrix_lines(certificate: Mapping[str, Any]) -> list[str]:
    """The device × precision matrix: one row per device, a status per precision."""
    matrix = certificate.get("matrix") or {}
    cells = matrix.get("cells") or {}
    if not cells:
        return []
    precisions = matrix["precisions"]
    rows = {
        device: [_cell_label(cells.get(device, {}).get(p)) for p in precisions]
        for device in matrix["devices"]
    }
    # Wide enough for the widest label too ("deviation 21"), so columns never run together.
    all_labels = [label for row in rows.values() for label in row]
    width = max(len(text) for text in [*precisions, *all_labels]) + 2
    header = "device".ljust(8) + "".join(p.rjust(width) for p in precisions)
    lines = ["", "Device × precision matrix (clause results per cell):", header]
    for device, labels in rows.items():
        lines.append(device.ljust(8) + "".join(label.rjust(width) for label in labels))
    return lines


def _cell_label(cell: Mapping[str, Any] | None) -> str:
    """``pass 35`` / ``FAIL 2`` / ``not run`` / ``-`` (no clause has that cell)."""
    if cell is None:
        return "-"
    label = CELL_LABELS[cell["status"]]
    if cell["status"] == "not_run":
        return label
    return f"{label} {cell['passed'] + cell['failed'] + cell['errored'] + cell['deviation']}"


def attention_lines(certificate: Mapping[str, Any]) -> list[str]:
    """Failing clauses, declared deviations, stale ones, file problems and not-run reasons."""
    lines: list[str] = []
    clauses = certificate["clauses"]
    broken = [c for c in clauses if c["status"] in ("failed", "errored")]
    if broken:
        lines += ["", "Failed or errored clauses:"]
        for clause in broken:
            lines.append(f"  {clause['status'].upper():8} {clause['id']}: {clause['title']}")
            if clause["message"]:
                lines.append(f"           {clause['message']}")
    declared = [c for c in clauses if c["status"] == "deviation"]
    if declared:
        lines += ["", "Declared deviations:"]
        for clause in declared:
            why = {cell["deviation"]["reason"] for cell in clause["results"] if cell["deviation"]}
            lines.append(f"  {clause['id']}: {'; '.join(sorted(why))}")
    stale = certificate.get("stale_deviations", [])
    if stale:
        lines += ["", "Warning: stale deviations (declared, but the clause passed; remove them):"]
        for entry in stale:
            cell = f" [{entry['param_id']}]" if entry.get("param_id") else ""
            lines.append(f"  {entry['clause']}{cell}: {entry['reason']}")
    problems = certificate["deviations_file"].get("problems", [])
    if problems:
        lines += ["", "Deviations file problems:"]
        lines += [f"  {problem}" for problem in problems]
    unmatched = certificate.get("selection", {}).get("unmatched_prefixes", [])
    if unmatched:
        lines += ["", f"Warning: clause prefixes that match no clause: {', '.join(unmatched)}"]
    not_run = [c for c in clauses if c["status"] == "not_run"]
    if not_run:
        reasons: dict[str, int] = {}
        for clause in not_run:
            reason = clause["message"] or "skipped"
            reasons[reason] = reasons.get(reason, 0) + 1
        lines += ["", f"Not run ({len(not_run)} clauses):"]
        lines += [f"  {n} × {reason}" for reason, n in sorted(reasons.items())]
    return lines


def render_text(certificate: Mapping[str, Any]) -> str:
    lines = [headline(certificate), "", *_table_text(certificate)]
    lines += matrix_lines(certificate)
    lines += attention_lines(certificate)
    lines += ["", verdict(certificate)]
    return "\n".join(lines)


def _print_rich(certificate: Mapping[str, Any]) -> bool:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        return False
    console = Console()
    table = Table(title=headline(certificate), title_justify="left")
    table.add_column("family")
    styles = {"passed": "green", "failed": "red", "errored": "red", "deviation": "yellow"}
    for status in STATUSES:
        table.add_column(COLUMNS[status], justify="right", style=styles.get(status))
    rows = family_rows(certificate)
    for index, (name, counts) in enumerate(rows):
        table.add_row(name, *(str(counts[s]) for s in STATUSES), end_section=index == len(rows) - 2)
    console.print(table)
    for line in [*matrix_lines(certificate), *attention_lines(certificate)]:
        console.print(line, highlight=False, markup=False)
    console.print()
    style = "bold green" if certificate["conforms"] else "bold red"
    console.print(verdict(certificate), style=style)
    return True


def print_report(
    certificate: Mapping[str, Any], stream: TextIO | None = None, *, plain: bool = False
) -> None:
    """Print the report; ``rich`` when available on a terminal, unless ``plain``."""
    stream = stream or sys.stdout
    if not plain and stream is sys.stdout and stream.isatty() and _print_rich(certificate):
        return
    stream.write(render_text(certificate) + "\n")
