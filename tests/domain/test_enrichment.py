"""Lead enrichment against the sample program's reference data: identifiers normalised, NPIs
checked (DOMAIN 19), territories and taxonomy mapped, HCP status only from verified data
(DOMAIN 21), and what routing is missing."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from leadflow_domain.enrichment import (
    enrich,
    is_shared_inbox,
    map_term,
    normalize_email,
    normalize_phone,
    npi_is_valid,
    territory_for,
)
from models.events import LeadProfile
from models.program import load_program
from models.reference import ReferenceData, Taxonomy, Territory, term_key
from starter.settings import SAMPLE_PROGRAM
from workflows.scoring import norm

REFERENCE = ReferenceData.model_validate(
    yaml.safe_load(SAMPLE_PROGRAM.read_text(encoding="utf-8"))["reference"]
)
DEFAULTS = ReferenceData()
VALID_NPI = "1234567893"


def profile(**fields: Any) -> LeadProfile:
    return LeadProfile.model_validate(fields)


def luhn_valid(number: str) -> bool:
    """Textbook Luhn: doubling every second digit from the right, the digit sum ends in 0."""
    digits = [int(c) for c in reversed(number)]
    doubled = [sum(divmod(2 * d, 10)) for d in digits[1::2]]
    return (sum(digits[0::2]) + sum(doubled)) % 10 == 0


# -- NPI (DOMAIN 19) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("npi", "valid"),
    [
        ("1234567893", True),
        ("1993999998", True),
        ("1234567890", False),  # check digit wrong
        ("3234567893", False),  # first digit must be 1 or 2
        ("123456789", False),
        ("12345678930", False),
        ("12345678a3", False),
        ("١٢٣٤٥٦٧٨٩٣", False),  # Arabic-Indic digits are digits to str.isdigit, not to the NPI
        ("", False),
    ],
)
def test_npi_check_digit(npi: str, valid: bool) -> None:
    assert npi_is_valid(npi) is valid


@given(st.text(alphabet="0123456789", min_size=10, max_size=10))
def test_npi_agrees_with_textbook_luhn(npi: str) -> None:
    assert npi_is_valid(npi) == (npi[0] in "12" and luhn_valid("80840" + npi))


@given(st.sampled_from("12"), st.text(alphabet="0123456789", min_size=8, max_size=8))
def test_every_npi_body_has_exactly_one_check_digit(first: str, rest: str) -> None:
    assert sum(npi_is_valid(first + rest + str(check)) for check in range(10)) == 1


# -- e-mail ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("  Ana.Rivera@Northside-Cardio.Example ", "ana.rivera@northside-cardio.example"),
        ("A.RIVERA+HF@CLINIC.EXAMPLE", "a.rivera+hf@clinic.example"),
    ],
)
def test_email_normalised_to_lower_case(raw: str, normal: str) -> None:
    assert normalize_email(raw) == (normal, None)


@pytest.mark.parametrize(
    "raw",
    ["ana.rivera@", "ana..rivera@clinic.example", "ana@clinic", "ana@clinic.test", "a b@x.io"],
)
def test_invalid_email_is_a_problem(raw: str) -> None:
    email, problem = normalize_email(raw)
    assert email is None
    assert problem


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_absent_email_is_no_problem(raw: str | None) -> None:
    assert normalize_email(raw) == (None, None)


@pytest.mark.parametrize(
    ("email", "shared"),
    [
        ("info@clinic.example", True),
        ("Office@clinic.example", True),
        ("front.desk@clinic.example", True),
        ("team+hf@clinic.example", True),
        ("info2@clinic.example", True),
        ("admin-cardiology@clinic.example", True),
        ("information.officer@clinic.example", False),
        ("helloise.martin@clinic.example", False),
        ("ana.info@clinic.example", False),
        ("a.rivera@info.example", False),
        (None, False),
    ],
)
def test_shared_inbox(email: str | None, shared: bool) -> None:
    assert is_shared_inbox(email, REFERENCE) is shared


def test_default_shared_inbox_prefixes() -> None:
    assert is_shared_inbox("reception@clinic.example", DEFAULTS)
    assert not is_shared_inbox("frontdesk@clinic.example", DEFAULTS)  # only the sample adds it


# -- phone ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "country", "e164"),
    [
        ("(617) 555-0123", "US", "+16175550123"),
        ("617.555.0123", "us", "+16175550123"),
        ("+1 617 555 0123", None, "+16175550123"),
        ("030 901820", "DE", "+4930901820"),
        ("0151 23456789", "DE", "+4915123456789"),
        ("+49 30 901820", "US", "+4930901820"),  # an international number keeps its country
    ],
)
def test_phone_to_e164(raw: str, country: str | None, e164: str) -> None:
    assert normalize_phone(raw, country) == (e164, None)


@pytest.mark.parametrize(
    ("raw", "country"),
    [("12345", "US"), ("555-0123", "US"), ("call me", "US"), ("030 901820", None), ("+49 1", None)],
)
def test_invalid_phone_is_a_problem(raw: str, country: str | None) -> None:
    phone, problem = normalize_phone(raw, country)
    assert phone is None
    assert problem
    assert raw not in problem  # problems are logged; they do not repeat the number


def test_phone_from_another_country_is_a_conflict() -> None:
    result = enrich(profile(email="a@clinic.example", country="US"), "+49 30 901820", REFERENCE)
    assert result.phone == "+4930901820"
    assert [(p.field, p.problem) for p in result.problems] == [
        ("phone", "a DE number for a lead in US")
    ]


# -- names ----------------------------------------------------------------------------------


def test_names_trimmed_and_inner_whitespace_collapsed() -> None:
    result = enrich(
        profile(email="a@clinic.example", first_name="  Ana \t María ", last_name=" de  la Cruz"),
        None,
        REFERENCE,
    )
    assert (result.first_name, result.last_name) == ("Ana María", "de la Cruz")


def test_blank_name_is_none() -> None:
    assert (
        enrich(profile(email="a@clinic.example", first_name="   "), None, REFERENCE).first_name
        is None
    )


# -- territories ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zip_code", "territory"),
    [
        ("02210", "US-NORTHEAST"),  # Boston
        ("10001", "US-NORTHEAST"),  # New York
        ("19801", "US-NORTHEAST"),  # Wilmington, DE
        ("20001", "US-NORTHEAST"),  # Washington, DC
        ("21201", "US-NORTHEAST"),  # Baltimore
        ("00901", "US-SOUTHEAST"),  # San Juan, PR: the 3-digit prefix beats "0"
        ("00802", "US-SOUTHEAST"),  # St Thomas, VI
        ("23219", "US-SOUTHEAST"),  # Richmond
        ("33101", "US-SOUTHEAST"),  # Miami
        ("37203", "US-SOUTHEAST"),  # Nashville
        ("43215", "US-MIDWEST"),  # Columbus
        ("55401", "US-MIDWEST"),  # Minneapolis
        ("60601", "US-MIDWEST"),  # Chicago
        ("68102", "US-MIDWEST"),  # Omaha
        ("70112", "US-SOUTH-CENTRAL"),  # New Orleans
        ("77030", "US-SOUTH-CENTRAL"),  # Houston
        ("59101", "US-WEST"),  # Billings, MT: the 2-digit prefix beats "5"
        ("80202", "US-WEST"),  # Denver
        ("94103", "US-WEST"),  # San Francisco
        ("96813", "US-WEST"),  # Honolulu
        ("99501", "US-WEST"),  # Anchorage
    ],
)
def test_territory_by_zip(zip_code: str, territory: str) -> None:
    assert territory_for("US", zip_code, REFERENCE) == territory


def test_every_sample_territory_is_reachable() -> None:
    reached = {
        territory_for("US", f"{first}{second}{third}00", REFERENCE)
        for first in range(10)
        for second in range(10)
        for third in range(10)
    }
    assert reached == {t.id for t in REFERENCE.territories}


@pytest.mark.parametrize("zip_code", [" 02210-1234", "022101234", "02210 1234", "02210"])
def test_zip_forms(zip_code: str) -> None:
    assert territory_for("us", zip_code, REFERENCE) == "US-NORTHEAST"


@pytest.mark.parametrize(
    ("country", "zip_code"),
    [
        ("CA", "02210"),  # the country must match
        (None, "02210"),
        ("US", None),
        ("US", "2210"),  # leading zero lost in a spreadsheet: not guessed as 2xxxx
        ("US", "ABCDE"),
    ],
)
def test_no_territory(country: str | None, zip_code: str | None) -> None:
    assert territory_for(country, zip_code, REFERENCE) is None


@given(st.from_regex(r"\A[0-9]{5}(-[0-9]{4})?\Z"))
def test_territory_total_over_us_zips(zip_code: str) -> None:
    assert territory_for("US", zip_code, REFERENCE) is not None


def test_country_wide_territory_and_longest_prefix() -> None:
    reference = ReferenceData(
        territories=[
            Territory(id="DE", country="DE"),
            Territory(id="DE-BERLIN", country="DE", postal_prefixes=["10", "12", "13", "14"]),
            Territory(id="UK-LONDON-W", country="GB", postal_prefixes=["w", "SW1"]),
        ]
    )
    assert territory_for("DE", "10115", reference) == "DE-BERLIN"
    assert territory_for("DE", "80331", reference) == "DE"
    assert territory_for("DE", None, reference) == "DE"
    assert territory_for("GB", "sw1a 1aa", reference) == "UK-LONDON-W"
    assert territory_for("GB", "EC1A 1BB", reference) is None


# -- taxonomy -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "raw", "key"),
    [
        ("roles", "MD", "physician"),
        ("roles", "M.D.", "physician"),
        ("roles", "doctor", "physician"),
        ("roles", "Attending  Physician", "physician"),
        ("roles", "physician", "physician"),
        ("roles", "NP", "nurse_practitioner"),
        ("roles", "Nurse-Practitioner ", "nurse_practitioner"),
        ("roles", "nurse practioner", "nurse_practitioner"),
        ("roles", "PA-C", "physician_assistant"),
        ("roles", "pa c", "physician_assistant"),
        ("roles", "RPh", "pharmacist"),
        ("roles", "Pharm.D.", "pharmacist"),
        ("roles", "R.N.", "nurse"),
        ("roles", "Med student", "student"),
        ("roles", "Care-giver", "caregiver"),
        ("specialties", "Cardiologist", "cardiology"),
        ("specialties", "cardio", "cardiology"),
        ("specialties", "Heart failure specialist", "cardiology"),
        ("specialties", "IM", "internal_medicine"),
        ("specialties", "Internist", "internal_medicine"),
        ("specialties", "renal", "nephrology"),
        ("specialties", "Family Practice", "family_medicine"),
        ("org_types", "Academic Medical Center", "hospital"),
        ("org_types", "IDN", "health_system"),
        ("org_types", "HF clinic", "clinic"),
        ("org_types", "Group practice", "private_practice"),
        ("org_types", "Pharma company", "competitor"),
        ("org_types", "Patient organisation", "patient_organization"),
    ],
)
def test_taxonomy_synonyms(table: str, raw: str, key: str) -> None:
    assert map_term(raw, getattr(REFERENCE.taxonomy, table)) == key


@pytest.mark.parametrize("raw", ["astronaut", "", "   ", None, "P", "physician assistant nurse"])
def test_unknown_term(raw: str | None) -> None:
    assert map_term(raw, REFERENCE.taxonomy.roles) is None


def test_taxonomy_covers_every_key_the_sample_program_scores() -> None:
    scoring = load_program(SAMPLE_PROGRAM).scoring
    taxonomy = REFERENCE.taxonomy
    assert set(scoring.fit.role) | set(scoring.disqualifiers.roles) <= set(taxonomy.roles)
    assert set(scoring.fit.specialty) <= set(taxonomy.specialties)
    assert set(scoring.fit.org_type) | set(scoring.disqualifiers.org_types) <= set(
        taxonomy.org_types
    )


@given(st.text(alphabet="abcXYZ019 -_.\t", max_size=30))
def test_term_key_agrees_with_scoring_norm(raw: str) -> None:
    # A key scoring's norm produced looks up the same entry as the text it came from.
    assert term_key(norm(raw)) == term_key(raw)


def test_unknown_role_is_a_problem_and_blocks_routing() -> None:
    result = enrich(
        profile(email="a@clinic.example", country="US", role="astronaut"), None, DEFAULTS
    )
    # An empty taxonomy keeps the key as scoring would read it; the sample taxonomy does not.
    assert result.role == "astronaut"
    result = enrich(
        profile(email="a@clinic.example", country="US", role="astronaut"), None, REFERENCE
    )
    assert result.role is None
    assert ("role", "'astronaut' is not in the program's role taxonomy") in [
        (p.field, p.problem) for p in result.problems
    ]
    assert "role" in result.missing_routing_fields


# -- HCP status (DOMAIN 21) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "verified", "evidence"),
    [
        ({"npi": VALID_NPI, "country": "US"}, True, "npi"),
        ({"npi": VALID_NPI, "country": "US", "role": "patient"}, True, "npi"),
        ({"npi": VALID_NPI}, False, None),  # an NPI alone does not say the lead is in the US
        ({"npi": VALID_NPI, "country": "DE"}, False, None),
        ({"npi": "1234567890", "country": "US", "role": "physician"}, False, None),
        ({"crm_id": "0015g00000XyZ", "email": "a@clinic.example"}, True, "crm_id"),
        ({"email": "a@clinic.example", "country": "US", "role": "MD"}, False, None),
        (
            {"email": "a@clinic.example", "role": "physician", "specialty": "cardiology"},
            False,
            None,
        ),
    ],
)
def test_hcp_verified_only_from_verified_data(
    fields: dict[str, str], verified: bool, evidence: str | None
) -> None:
    result = enrich(profile(**fields), None, REFERENCE)
    assert (result.hcp_verified, result.hcp_evidence) == (verified, evidence)


def test_npi_problems() -> None:
    bad = enrich(profile(npi="1234567890", country="US"), None, REFERENCE)
    assert (bad.npi, bad.npi_valid) == ("1234567890", False)
    assert [p.field for p in bad.problems] == ["npi"]
    abroad = enrich(profile(npi=VALID_NPI, country="DE"), None, REFERENCE)
    assert abroad.npi_valid
    assert [p.problem for p in abroad.problems] == [
        "an NPI identifies US providers, but the lead's country is DE"
    ]


# -- the whole profile ----------------------------------------------------------------------


def test_complete_us_lead() -> None:
    result = enrich(
        profile(
            email="A.Rivera@Northside-Cardio.Example",
            npi=VALID_NPI,
            first_name=" Ana ",
            last_name="Rivera",
            role="Attending physician",
            specialty="Cardiologist",
            organization="  Northside   Cardiology ",
            org_type="Private practice",
            country="us",
            postal_code="60601 1234",
        ),
        "(312) 555-0100",
        REFERENCE,
    )
    assert result.model_dump(exclude={"problems"}) == {
        "email": "a.rivera@northside-cardio.example",
        "email_shared_inbox": False,
        "phone": "+13125550100",
        "first_name": "Ana",
        "last_name": "Rivera",
        "organization": "Northside Cardiology",
        "crm_id": None,
        "npi": VALID_NPI,
        "npi_valid": True,
        "country": "US",
        "postal_code": "60601-1234",
        "role": "physician",
        "specialty": "cardiology",
        "org_type": "private_practice",
        "territory": "US-MIDWEST",
        "hcp_verified": True,
        "hcp_evidence": "npi",
        "missing_routing_fields": [],
    }
    assert result.problems == []


def test_missing_routing_fields_with_defaults() -> None:
    result = enrich(profile(npi=VALID_NPI), None, DEFAULTS)
    assert result.missing_routing_fields == ["email", "country", "role"]
    assert result.problems == []  # missing is not invalid


def test_invalid_values_count_as_missing_for_routing() -> None:
    result = enrich(
        profile(email="ana@clinic.test", country="UK", role="MD", postal_code="SW1A 1AA"),
        None,
        REFERENCE,
    )
    assert result.missing_routing_fields == ["email", "country", "territory"]
    assert {p.field: p.problem for p in result.problems}["country"] == (
        "UK is not an ISO 3166-1 alpha-2 country code (did you mean GB?)"
    )


def test_zip_that_lost_its_leading_zero() -> None:
    result = enrich(
        profile(email="a@clinic.example", country="US", postal_code="2210"), None, REFERENCE
    )
    assert (result.postal_code, result.territory) == (None, None)
    assert [(p.field, p.problem) for p in result.problems] == [
        ("postal_code", "not a US postal code")
    ]
    assert "territory" in result.missing_routing_fields


def test_routing_can_require_a_valid_npi() -> None:
    reference = ReferenceData(routing_critical=["npi", "phone"])
    result = enrich(profile(npi="1234567890", country="US"), "12345", reference)
    assert result.missing_routing_fields == ["npi", "phone"]


# -- the reference data model ---------------------------------------------------------------


def test_reference_defaults() -> None:
    assert DEFAULTS.routing_critical == ["email", "country", "role"]
    assert DEFAULTS.shared_inbox_prefixes[:2] == ["info", "office"]
    assert DEFAULTS.territories == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"territories": [{"id": "A", "country": "US"}, {"id": "A", "country": "CA"}]},
            "duplicate territory ids ['A']",
        ),
        (
            {"taxonomy": {"roles": {"physician": ["MD"], "pharmacist": ["m.d."]}}},
            "synonym 'm.d.' maps to both physician and pharmacist",
        ),
        (
            {"taxonomy": {"roles": {"physician": ["Nurse"], "nurse": []}}},
            "maps to both",
        ),
        ({"taxonomy": {"roles": {"Physician": []}}}, "not snake_case"),
        (
            {
                "territories": [
                    {"id": "A", "country": "US", "postal_prefixes": ["1"]},
                    {"id": "B", "country": "US", "postal_prefixes": ["2", "1"]},
                ]
            },
            "territories A and B both claim postal prefix '1' in US",
        ),
        ({"territories": [{"id": "A", "country": "USA"}]}, "String should match pattern"),
        ({"territories": [{"id": "A", "country": "US", "postal_prefixes": [" "]}]}, "empty"),
        ({"routing_critical": ["email", "favourite_colour"]}, "unknown routing-critical"),
        ({"territory": []}, "Extra inputs are not permitted"),
    ],
)
def test_reference_data_rejected(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        ReferenceData.model_validate(data)


def test_same_synonym_in_different_tables_is_fine() -> None:
    taxonomy = Taxonomy(
        roles={"physician": ["Cardiologist"]}, specialties={"cardiology": ["Cardiologist"]}
    )
    assert map_term("cardiologist", taxonomy.roles) == "physician"
    assert map_term("cardiologist", taxonomy.specialties) == "cardiology"
