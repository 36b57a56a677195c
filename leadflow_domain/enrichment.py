"""Lead enrichment: normalise what a form or import says about a person and check it against the
program's reference data (territories, taxonomy, NPI), without any network call.

Pure functions only: the result holds direct identifiers (email, phone, names), so it belongs at
intake, beside identity resolution, and must not be carried into workflow history whole.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, Field

from models.events import LeadFacts, LeadProfile
from models.reference import ReferenceData, Taxonomy, postal_key, term_key

# ISO 3166-1 alpha-2 codes: every region phonenumbers knows, plus the few without telephony.
KNOWN_COUNTRIES = frozenset(phonenumbers.SUPPORTED_REGIONS) | {
    "AQ",
    "BV",
    "GS",
    "HM",
    "PN",
    "TF",
    "UM",
}

# Postal formats checked before a territory lookup: a US ZIP that lost its leading zero in a
# spreadsheet ("2210" for Boston's 02210) would otherwise land in the wrong territory.
POSTAL_FORMATS = {"US": re.compile(r"^\d{5}(-?\d{4})?$")}

# Records a problem with a field (None: nothing to record).
_Report = Callable[[str, str | None], None]

# Codes people write for a country that ISO spells otherwise.
_COUNTRY_HINTS = {"UK": "GB", "EL": "GR"}

_NPI_PREFIX = "80840"  # ISO 7812 issuer prefix for US health identifiers


class FieldProblem(BaseModel):
    """A value that was invalid or contradicted another; the text never repeats an identifier
    it rejects, except where the e-mail validator quotes the offending part."""

    field: str
    problem: str


class EnrichmentResult(BaseModel):
    """A lead profile normalised and checked; None wherever a value is missing or invalid."""

    email: str | None = None
    email_shared_inbox: bool = Field(
        default=False, description="reaches a team, not a person: never linked on email alone"
    )
    phone: str | None = Field(default=None, description="E.164")
    first_name: str | None = None
    last_name: str | None = None
    organization: str | None = None
    crm_id: str | None = None
    npi: str | None = Field(default=None, description="digits only, even when invalid")
    npi_valid: bool = False
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2")
    postal_code: str | None = None
    role: str | None = Field(default=None, description="canonical taxonomy key")
    specialty: str | None = Field(default=None, description="canonical taxonomy key")
    org_type: str | None = Field(default=None, description="canonical taxonomy key")
    territory: str | None = None
    hcp_verified: bool = Field(
        default=False, description="from verified data only, never a self-declared role"
    )
    hcp_evidence: str | None = Field(default=None, description="npi | crm_id")
    problems: list[FieldProblem] = Field(default_factory=list)
    missing_routing_fields: list[str] = Field(default_factory=list)


def enriched_facts(
    profile: LeadProfile, enriched: EnrichmentResult, **overrides: bool
) -> LeadFacts:
    """What a lead's workflow may know once the profile is enriched: canonical taxonomy keys,
    country, postal code, territory and what routing misses; no names or identifiers.
    `overrides` replace what only the database can tell (HCP verified, NPI valid)."""
    return profile.facts().model_copy(
        update={
            "role": enriched.role or profile.role,
            "specialty": enriched.specialty or profile.specialty,
            "org_type": enriched.org_type or profile.org_type,
            "country": enriched.country,
            "postal_code": enriched.postal_code or profile.postal_code,
            "territory": enriched.territory,
            "hcp_verified": enriched.hcp_verified,
            "npi_valid": enriched.npi_valid,
            "missing_routing_fields": enriched.missing_routing_fields,
            **overrides,
        }
    )


def normalize_email(raw: str | None) -> tuple[str | None, str | None]:
    """The address validated (syntax only, no DNS) and lower-cased, or None and the problem."""
    if raw is None or not raw.strip():
        return None, None
    try:
        checked = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as err:
        return None, str(err)
    return checked.normalized.lower(), None


def is_shared_inbox(email: str | None, reference: ReferenceData) -> bool:
    """Whether the address's local part is a team inbox (`info@`, `office.2@`, `team+hf@`)."""
    if not email or "@" not in email:
        return False
    local = email.rsplit("@", 1)[0].lower()
    return any(
        re.fullmatch(rf"{re.escape(prefix)}([._+\-0-9].*)?", local)
        for prefix in reference.shared_inbox_prefixes
    )


def normalize_phone(raw: str | None, country: str | None) -> tuple[str | None, str | None]:
    """The number in E.164 (`country` is the region for national numbers), or None and the
    problem."""
    if raw is None or not raw.strip():
        return None, None
    region = country.strip().upper() if country else None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as err:
        if err.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            return None, "no country code, and no known country to read a national number in"
        return None, "not a phone number"
    if not phonenumbers.is_valid_number(number):
        where = region or phonenumbers.region_code_for_number(number) or "international"
        if not phonenumbers.is_possible_number(number):
            return None, f"wrong length for a {where} phone number"
        return None, f"not a valid {where} phone number"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None


def npi_is_valid(npi: str) -> bool:
    """A well-formed US NPI: 10 digits, first 1 or 2, Luhn check digit over
    "80840" + the first 9. Well-formed is not proof of an active licence."""
    if len(npi) != 10 or not (npi.isascii() and npi.isdigit()) or npi[0] not in "12":
        return False
    return _luhn_check_digit(_NPI_PREFIX + npi[:9]) == int(npi[9])


def _luhn_check_digit(payload: str) -> int:
    total = 0
    # Once the check digit is appended, the payload's rightmost digit is the first doubled.
    for position, char in enumerate(reversed(payload)):
        digit = int(char) * (2 if position % 2 == 0 else 1)
        total += digit - 9 if digit > 9 else digit
    return (10 - total % 10) % 10


def territory_for(
    country: str | None, postal_code: str | None, reference: ReferenceData
) -> str | None:
    """The territory whose longest postal prefix matches, in the lead's country; a territory
    without prefixes covers the rest of its country. None when nothing covers the lead."""
    if not country:
        return None
    country = country.strip().upper()
    code = postal_key(postal_code)
    if code and not _postal_format_ok(country, code):
        code = ""
    best, best_length = None, -1
    for territory in reference.territories:
        if territory.country != country:
            continue
        for prefix in territory.postal_prefixes or [""]:
            if code.startswith(prefix) and len(prefix) > best_length:
                best, best_length = territory.id, len(prefix)
    return best


def _postal_format_ok(country: str, code: str) -> bool:
    pattern = POSTAL_FORMATS.get(country)
    return pattern is None or pattern.fullmatch(code) is not None


def map_term(raw: str | None, table: dict[str, list[str]]) -> str | None:
    """The canonical key for a role, specialty or org type as typed ('PA-C' -> physician_assistant),
    or None when the taxonomy does not know it."""
    key = term_key(raw)
    if not key:
        return None
    if key in table:
        return key
    return next(
        (canonical for canonical, synonyms in table.items() if key in map(term_key, synonyms)),
        None,
    )


def clean_text(raw: str | None) -> str | None:
    """Trimmed, inner whitespace collapsed, Unicode NFC; None when nothing is left."""
    text = unicodedata.normalize("NFC", " ".join((raw or "").split()))
    return text or None


def enrich(profile: LeadProfile, phone: str | None, reference: ReferenceData) -> EnrichmentResult:
    """Normalise a lead's profile and phone, map it onto the program's reference data, and say
    what is invalid, conflicting, or missing for routing."""
    problems: list[FieldProblem] = []
    report = _reporter(problems)
    # Problems are listed in the order these checks run.
    email = _email(profile.email, report)
    country = _country(profile.country, report)
    phone_e164 = _phone(phone, country, report)
    npi, npi_valid = _npi(profile.npi, country, report)
    postal_code = _postal_code(profile.postal_code, country, report)
    territory = _territory(country, postal_code, reference, report)
    role, specialty, org_type = _terms(profile, reference.taxonomy, report)
    crm_id = clean_text(profile.crm_id)
    hcp_evidence = _hcp_evidence(npi_valid, country, crm_id)
    result = EnrichmentResult(
        email=email,
        email_shared_inbox=is_shared_inbox(email, reference),
        phone=phone_e164,
        first_name=clean_text(profile.first_name),
        last_name=clean_text(profile.last_name),
        organization=clean_text(profile.organization),
        crm_id=crm_id,
        npi=npi or None,
        npi_valid=npi_valid,
        country=country,
        postal_code=postal_code,
        role=role,
        specialty=specialty,
        org_type=org_type,
        territory=territory,
        hcp_verified=hcp_evidence is not None,
        hcp_evidence=hcp_evidence,
        problems=problems,
    )
    result.missing_routing_fields = _missing_routing_fields(result, reference)
    return result


def _reporter(problems: list[FieldProblem]) -> _Report:
    def report(field: str, text: str | None) -> None:
        if text:
            problems.append(FieldProblem(field=field, problem=text))

    return report


def _email(raw: str | None, problem: _Report) -> str | None:
    email, email_problem = normalize_email(raw)
    problem("email", email_problem)
    return email


def _phone(raw: str | None, country: str | None, problem: _Report) -> str | None:
    phone, phone_problem = normalize_phone(raw, country)
    problem("phone", phone_problem)
    problem("phone", _phone_conflict(phone, country))
    return phone


def _npi(raw: str | None, country: str | None, problem: _Report) -> tuple[str | None, bool]:
    """The NPI's digits (empty when it had none) and whether they form a valid NPI."""
    npi = re.sub(r"\D", "", raw) if raw else None
    valid = npi_is_valid(npi) if npi else False
    problem("npi", _npi_problem(npi, valid, country))
    return npi, valid


def _territory(
    country: str | None, postal_code: str | None, reference: ReferenceData, problem: _Report
) -> str | None:
    territory = territory_for(country, postal_code, reference)
    if territory is None and postal_code and _has_territories(country, reference):
        problem("territory", f"no {country} territory covers this postal code")
    return territory


def _terms(
    profile: LeadProfile, taxonomy: Taxonomy, problem: _Report
) -> tuple[str | None, str | None, str | None]:
    """The canonical role, specialty and org type."""
    return (
        _term("role", profile.role, taxonomy.roles, problem),
        _term("specialty", profile.specialty, taxonomy.specialties, problem),
        _term("org_type", profile.org_type, taxonomy.org_types, problem),
    )


def _hcp_evidence(npi_valid: bool, country: str | None, crm_id: str | None) -> str | None:
    # HCP status comes from verified data only; the self-declared role plays no part.
    return "npi" if npi_valid and country == "US" else "crm_id" if crm_id else None


def _missing_routing_fields(result: EnrichmentResult, reference: ReferenceData) -> list[str]:
    return [field for field in reference.routing_critical if not _routing_value(result, field)]


def _country(raw: str | None, problem: _Report) -> str | None:
    if not raw or not raw.strip():
        return None
    country = raw.strip().upper()
    if country not in KNOWN_COUNTRIES:
        hint = f" (did you mean {_COUNTRY_HINTS[country]}?)" if country in _COUNTRY_HINTS else ""
        problem("country", f"{country} is not an ISO 3166-1 alpha-2 country code{hint}")
        return None
    return country


def _phone_conflict(phone: str | None, country: str | None) -> str | None:
    if not phone or not country:
        return None
    region = phonenumbers.region_code_for_number(phonenumbers.parse(phone))
    if region and region != country:
        return f"a {region} number for a lead in {country}"
    return None


def _npi_problem(npi: str | None, valid: bool, country: str | None) -> str | None:
    if npi is None:
        return None
    if not valid:
        return "not a valid NPI (10 digits, first 1 or 2, check digit)"
    if country and country != "US":
        return f"an NPI identifies US providers, but the lead's country is {country}"
    return None


def _postal_code(raw: str | None, country: str | None, problem: _Report) -> str | None:
    code = postal_key(raw)
    if not code:
        return None
    if country and not _postal_format_ok(country, code):
        problem("postal_code", f"not a {country} postal code")
        return None
    if country == "US" and len(code) == 9:
        return f"{code[:5]}-{code[5:]}"  # ZIP+4 in its usual written form
    return code


def _has_territories(country: str | None, reference: ReferenceData) -> bool:
    return any(territory.country == country for territory in reference.territories)


def _term(field: str, raw: str | None, table: dict[str, list[str]], problem: _Report) -> str | None:
    if not term_key(raw):
        return None
    if not table:
        # No taxonomy for this field: keep the scoring key as typed, as scoring would read it.
        return term_key(raw)
    key = map_term(raw, table)
    if key is None:
        problem(field, f"{clean_text(raw)!r} is not in the program's {field} taxonomy")
    return key


def _routing_value(result: EnrichmentResult, field: str) -> object:
    value: object = getattr(result, field)
    # A well-formed but failing NPI is present, not usable.
    return value if field != "npi" else value and result.npi_valid
