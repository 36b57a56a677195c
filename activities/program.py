"""Loading the program file: done in an activity so the version used is in history."""

from __future__ import annotations

from pathlib import Path

from temporalio import activity

from models.lead import LOAD_PROGRAM, LoadProgramInput
from models.program import Program, load_program


class ProgramActivities:
    def __init__(self, program_path: Path) -> None:
        self._program_path = program_path

    @activity.defn(name=LOAD_PROGRAM)
    def load_program(self, _: LoadProgramInput) -> Program:
        """The program in force now, read fresh from its file."""
        return load_program(self._program_path)
