"""Programs written for a test: the sample program with changes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from starter.settings import SAMPLE_PROGRAM

ProgramFactory = Callable[..., Path]


def write_program(
    directory: Path,
    first_touch_delay: str = "PT2S",
    asset_changes: dict[str, dict[str, Any]] | None = None,
    change: Callable[[dict[str, Any]], None] | None = None,
) -> Path:
    """Write a copy of the sample program with changes, e.g. a PT2S first touch."""
    program = yaml.safe_load(SAMPLE_PROGRAM.read_text())
    program["cadence"]["first_touch_delay"] = first_touch_delay
    for asset in program["assets"]:
        asset.update((asset_changes or {}).get(asset["id"], {}))
    if change is not None:
        change(program)
    path = directory / f"program-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(yaml.safe_dump(program, sort_keys=False))
    return path
