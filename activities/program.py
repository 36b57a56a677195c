"""Loading the program file: done in an activity so the version used is in history."""

from __future__ import annotations

from pathlib import Path

from temporalio import activity

from models.lead import LOAD_PROGRAM, LoadProgramInput
from models.program import ProgramInForce, load_program


class ProgramActivities:
    def __init__(self, program_path: Path, *, search_attributes: bool) -> None:
        self._program_path = program_path
        self._search_attributes = search_attributes

    @activity.defn(name=LOAD_PROGRAM)
    def load_program(self, _: LoadProgramInput) -> ProgramInForce:
        """The program in force now, read fresh from its file (its version goes in history)."""
        return ProgramInForce(
            program=load_program(self._program_path), search_attributes=self._search_attributes
        )
