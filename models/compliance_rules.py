"""A program's consent regimes, compliance holds and safety mailboxes."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field


class ConsentRules(BaseModel):
    """Where explicit consent is needed before promotional email, where double opt-in
    applies and when implied consent expires."""

    model_config = ConfigDict(extra="forbid")

    opt_in_countries: list[str] = Field(
        default_factory=lambda: [
            "AT",
            "BE",
            "DE",
            "DK",
            "ES",
            "FI",
            "FR",
            "IE",
            "IT",
            "NL",
            "PL",
            "SE",
        ],
        description="no promotional email without an explicit grant",
    )
    double_opt_in_countries: list[str] = Field(
        default_factory=lambda: ["DE"], description="a grant stays pending until confirmed"
    )
    implied_consent_expiry: dict[str, timedelta] = Field(
        default_factory=lambda: {"CA": timedelta(days=183)},
        description="country -> how long implied consent (e.g. after an inquiry) lasts",
    )


class ComplianceHolds(BaseModel):
    """What puts a lead on compliance hold for a reviewer's decision."""

    model_config = ConfigDict(extra="forbid")

    review_within: timedelta = Field(
        default=timedelta(days=2), description="a review not decided in time escalates"
    )
    off_label: bool = True
    partner_data_without_consent: bool = True
    unverified_promotional_request: bool = True
    missing_consent_basis: bool = Field(
        default=True,
        description="a lead in an opt-in country asks for promotion before any consent",
    )


class SafetyContacts(BaseModel):
    """Where screened reports go: drug safety, and medical information (never sales)."""

    model_config = ConfigDict(extra="forbid")

    drug_safety_mailbox: str
    escalation_mailbox: str
    medical_information_mailbox: str
