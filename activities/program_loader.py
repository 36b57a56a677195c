"""Loading the program file: done in an activity so the version used is in history."""

from __future__ import annotations

from pathlib import Path

from temporalio import activity
from temporalio.exceptions import ApplicationError

from models.lead_state import LoadProgramInput
from models.program import (
    ProgramError,
    ProgramInForce,
    load_program_text,
    program_fingerprint,
)


class ProgramActivities:
    def __init__(self, program_path: Path, *, search_attributes: bool) -> None:
        self._program_path = program_path
        self._search_attributes = search_attributes
        # The last good program, by fingerprint: served to leads while an edit is broken.
        text = program_path.read_text(encoding="utf-8")
        self._parsed = (program_fingerprint(text), load_program_text(program_path, text))

    @activity.defn(name="load_program")
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
        rejected = None
        fingerprint = program_fingerprint(text)
        if fingerprint != self._parsed[0]:
            try:
                self._parsed = (fingerprint, load_program_text(self._program_path, text))
            except ProgramError as err:
                # A bad edit must not stop any lead: all keep the last good program.
                rejected = str(err)
        good_fingerprint, good = self._parsed
        return ProgramInForce(
            program=None if good_fingerprint == request.have_fingerprint else good,
            fingerprint=good_fingerprint,
            search_attributes=self._search_attributes,
            rejected=rejected,
        )
