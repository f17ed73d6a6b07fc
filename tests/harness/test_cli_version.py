"""``trainspec --version`` names the suite version that certificates carry."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import SUITE_VERSION
from conformance.cli import main


def test_version_flag(capsys: Any) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"trainspec {SUITE_VERSION}"
