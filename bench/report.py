"""Presenting benchmark results: Markdown tables on stdout, the full results as JSON."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def median(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("no samples to take the median of")
    return statistics.median(values)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table; numeric columns right-aligned."""
    cells = [[str(cell) for cell in row] for row in rows]
    numeric = [
        all(_is_number(row[i]) for row in rows) if rows else False for i in range(len(header))
    ]
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("| " + " | ".join("---:" if n else "---" for n in numeric) + " |")
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) or (
        isinstance(value, str) and value.replace(".", "", 1).rstrip("×").isdigit()
    )


def write_json(results: dict[str, Any], path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
