"""Loading the program file: done in an activity so the version used is in history."""

from __future__ import annotations

from pathlib import Path

from temporalio import activity
from temporalio.exceptions import ApplicationError

from models.lead import LOAD_PROGRAM, LoadProgramInput
from models.program import (
    Program,
    ProgramError,
    ProgramInForce,
    load_program_text,
    program_fingerprint,
)


class ProgramActivities:
    def __init__(self, program_path: Path, *, search_attributes: bool) -> None:
        self._program_path = program_path
        self._search_attributes = search_attributes
        self._parsed: tuple[str, Program] | None = None  # the last good parse, by fingerprint

    @activity.defn(name=LOAD_PROGRAM)
    def load_program(self, request: LoadProgramInput) -> ProgramInForce:
        """The program in force now, read fresh from its file (its version goes in history);
        unchanged since the caller's fingerprint, only the fingerprint is returned."""
        try:
            text = self._program_path.read_text(encoding="utf-8")
        except OSError as err:
            raise ApplicationError(
                f"{self._program_path}: cannot read program file ({err.strerror})",
                type="ProgramUnreadable",
            ) from err
        fingerprint = program_fingerprint(text)
        program = None
        if fingerprint != request.have_fingerprint:
            program = self._parse(fingerprint, text)
        return ProgramInForce(
            program=program, fingerprint=fingerprint, search_attributes=self._search_attributes
        )

    def _parse(self, fingerprint: str, text: str) -> Program:
        if self._parsed is not None and self._parsed[0] == fingerprint:
            return self._parsed[1]
        try:
            program = load_program_text(self._program_path, text)
        except ProgramError as err:
            # A bad edit must not stop running leads: they keep the last good program.
            raise ApplicationError(str(err), type="ProgramInvalid") from err
        self._parsed = (fingerprint, program)
        return program
