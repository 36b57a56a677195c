"""Safety and medical screening of free text : the term lists, the forwarding rule
and what a screen found."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Flag = Literal[
    "adverse_event", "special_situation", "product_complaint", "medical_question", "off_label"
]
SAFETY_FLAGS: frozenset[Flag] = frozenset(
    {"adverse_event", "special_situation", "product_complaint"}
)
MEDICAL_FLAGS: frozenset[Flag] = frozenset({"medical_question", "off_label"})
MINIMUM_ELEMENTS = (
    "identifiable_patient",
    "identifiable_reporter",
    "suspect_product",
    "adverse_event",
)
Route = Literal["drug_safety", "medical_information"]


class ScreeningTerms(BaseModel):
    """Words and phrases the screen looks for, matched as whole words after normalisation.

    Lists that raise a flag, and the product names, are also matched fuzzily (misspellings);
    the hint lists for the minimum elements and `use_terms` are matched exactly.
    """

    model_config = ConfigDict(extra="forbid")

    product_terms: list[str] = Field(min_length=1, description="brand, generic, misspellings")
    adverse_event_terms: list[str] = Field(min_length=1)
    special_situation_terms: list[str] = Field(min_length=1)
    product_complaint_terms: list[str] = Field(min_length=1)
    medical_question_terms: list[str] = Field(min_length=1)
    off_label_terms: list[str] = Field(min_length=1, description="indications not approved")
    patient_terms: list[str] = Field(default_factory=list, description="identifiable patient")
    reporter_terms: list[str] = Field(default_factory=list, description="a named third party")
    use_terms: list[str] = Field(
        default_factory=list,
        description="past-use cues: with an off-label match in the same field, off-label use "
        "is a special situation",
    )
    known_words: list[str] = Field(
        default_factory=list,
        description="ordinary words never read as a misspelling of a term (leaving, not leaking)",
    )

    @field_validator("*")
    @classmethod
    def _no_blank_terms(cls, terms: list[str]) -> list[str]:
        blank = [t for t in terms if not any(c.isalnum() for c in t)]
        if blank:
            raise ValueError(f"terms need a letter or digit: {blank}")
        return terms


class SafetyRules(BaseModel):
    """How soon a flagged item must reach drug safety (the regulatory clock starts
    at first receipt)."""

    model_config = ConfigDict(extra="forbid")

    forward_within_business_days: int = Field(default=1, ge=1, le=30)
    holiday_country: str = Field(default="US", description="ISO 3166-1 alpha-2, `holidays` codes")
    holiday_subdivision: str | None = Field(default=None, description="e.g. a US state, CA")

    def calendar_problem(self) -> str | None:
        """Why `holidays` has no calendar for this country/subdivision, or None.

        Checked when a program file is loaded, not as a model validator: the program also
        travels in workflow payloads, and the workflow sandbox must not import `holidays`.
        """
        import holidays

        try:
            holidays.country_holidays(self.holiday_country, subdiv=self.holiday_subdivision)
        except NotImplementedError as err:
            return f"no holiday calendar: {err}"
        return None


class Screening(BaseModel):
    """The `screening:` block of a program file."""

    model_config = ConfigDict(extra="forbid")

    terms: ScreeningTerms
    safety: SafetyRules = Field(default_factory=SafetyRules)


class Match(BaseModel):
    """A configured term found in one field; carries the term, never the text around it."""

    field: str = Field(description="path of the screened field, e.g. properties.comment")
    flag: Flag
    term: str


class ScreenResult(BaseModel):
    """What the screen found in one event's free text, and where it must go."""

    flags: list[Flag] = Field(default_factory=list)
    matched: list[Match] = Field(default_factory=list)
    minimum_elements: dict[str, bool] = Field(
        default_factory=lambda: dict.fromkeys(MINIMUM_ELEMENTS, False)
    )
    is_safety: bool = False
    is_medical: bool = False
    route: Route | None = Field(default=None, description="drug safety > medical information")

    def flagged_fields(self) -> dict[str, set[Flag]]:
        """Each field with at least one match, and the flags it raised."""
        found: dict[str, set[Flag]] = {}
        for match in self.matched:
            found.setdefault(match.field, set()).add(match.flag)
        return found
