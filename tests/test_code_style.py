"""The code reads the way STYLE asks: ruff's lint rules and formatter own every file."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, "stripe_source", "pipelines", "tests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def test_ruff_finds_no_lint_errors():
    result = _ruff("check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_file_is_formatted_by_ruff():
    result = _ruff("format", "--check")
    assert result.returncode == 0, result.stdout + result.stderr
