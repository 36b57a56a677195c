"""The safety and medical screen (DOMAIN 1-5) against labelled HCP texts, with its forwarding
deadline and the redaction the commercial side sees.

Measured recall and precision are printed; see them with
`.venv/bin/pytest -q -s tests/domain/test_screening.py -k test_report`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from leadflow_domain.free_text_screen import (
    allowed_edits,
    forward_by,
    free_text_fields,
    redact,
    screen,
    tokens,
    within_edits,
)
from models.screening import MEDICAL_FLAGS, SAFETY_FLAGS, SafetyRules, Screening, ScreenResult
from starter.settings import SAMPLE_PROGRAM

SCREENING_FILE = SAMPLE_PROGRAM
EXAMPLES_FILE = Path(__file__).resolve().parents[1] / "data" / "screening_examples.yaml"
SCREENING = Screening.model_validate(yaml.safe_load(SCREENING_FILE.read_text())["screening"])
LABELLED: dict[str, list[dict[str, Any]]] = yaml.safe_load(EXAMPLES_FILE.read_text())
EXAMPLES, HELD_OUT = LABELLED["examples"], LABELLED["held_out"]
CLEAN = [e for e in EXAMPLES if not e["flags"]]
FIELD = "properties.comment"
NEW_YORK = ZoneInfo("America/New_York")
US = SafetyRules()


def screened(text: str, reporter_identifiable: bool = True) -> ScreenResult:
    return screen({FIELD: text}, SCREENING, reporter_identifiable=reporter_identifiable)


def recall(
    flags: frozenset[str], examples: list[dict[str, Any]] = EXAMPLES
) -> tuple[int, int, list[str]]:
    """(found, expected, misses) over every (example, expected flag) pair among `flags`."""
    expected = [(e["text"], f) for e in examples for f in e["flags"] if f in flags]
    misses = [f"{flag}: {text}" for text, flag in expected if flag not in screened(text).flags]
    return len(expected) - len(misses), len(expected), misses


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# --- the configuration and the labelled set ---------------------------------------------------


def test_sample_screening_validates_with_useful_term_lists() -> None:
    terms = SCREENING.terms
    for name in ("adverse_event", "special_situation", "product_complaint", "medical_question"):
        assert len(getattr(terms, f"{name}_terms")) >= 20, name
    assert len(terms.off_label_terms) >= 20
    assert {"zelmostatt", "corvana"} <= set(terms.product_terms)
    assert {"dizzyness"} <= set(terms.adverse_event_terms)
    assert {"pregnent"} <= set(terms.special_situation_terms)
    assert SCREENING.safety == SafetyRules(forward_within_business_days=1, holiday_country="US")


def test_no_list_repeats_a_term_once_normalised() -> None:
    for name, terms in SCREENING.terms:
        normalised = [" ".join(tokens(term)) for term in terms]
        assert len(normalised) == len(set(normalised)), name


def test_a_long_email_thread_is_screened_whole() -> None:
    thread = " ".join(e["text"] for e in EXAMPLES + HELD_OUT) + " unseen wording zqxv"
    assert screened(thread).route == "drug_safety"


def test_screening_config_refuses_unknown_keys_blank_terms_and_unknown_calendars() -> None:
    raw = yaml.safe_load(SCREENING_FILE.read_text())["screening"]
    with pytest.raises(ValidationError, match="extra"):
        Screening.model_validate({**raw, "surprise": 1})
    with pytest.raises(ValidationError, match="letter or digit"):
        Screening.model_validate({**raw, "terms": {**raw["terms"], "product_terms": [" - "]}})
    assert "no holiday calendar" in (SafetyRules(holiday_country="XX").calendar_problem() or "")
    unknown_state = SafetyRules(holiday_country="US", holiday_subdivision="ZZ")
    assert "no holiday calendar" in (unknown_state.calendar_problem() or "")
    assert SafetyRules().calendar_problem() is None
    with pytest.raises(ValidationError):
        SafetyRules(forward_within_business_days=0)


def test_labelled_set_covers_every_flag_and_the_hard_cases() -> None:
    assert len(EXAMPLES) >= 60
    assert len(CLEAN) >= 20
    labelled = {f for e in EXAMPLES for f in e["flags"]}
    assert labelled == SAFETY_FLAGS | MEDICAL_FLAGS
    tags = [t for e in EXAMPLES for t in e.get("tags", [])]
    assert {"negated", "misspelled", "oblique"} <= set(tags)


# --- recall and precision ----------------------------------------------------------------------


def test_safety_recall_is_total() -> None:
    found, expected, misses = recall(SAFETY_FLAGS)
    assert found == expected, misses


def test_medical_and_off_label_recall_is_at_least_95_percent() -> None:
    found, expected, misses = recall(MEDICAL_FLAGS)
    assert found / expected >= 0.95, misses


def test_every_safety_example_routes_to_drug_safety() -> None:
    for example in EXAMPLES:
        result = screened(example["text"])
        if set(example["flags"]) & SAFETY_FLAGS:
            assert result.route == "drug_safety", example["text"]
        elif example["flags"]:
            assert result.route is not None, example["text"]


def test_clean_commercial_texts_rarely_flag_as_safety() -> None:
    flagged = [e["text"] for e in CLEAN if screened(e["text"]).is_safety]
    assert len(flagged) / len(CLEAN) <= 0.10, flagged


def measured(examples: list[dict[str, Any]]) -> list[str]:
    """Recall per flag, routing recall and precision per example, and clean-text hits."""
    results = [(e, screened(e["text"])) for e in examples]
    clean = [r for e, r in results if not e["flags"]]
    lines = []
    for name, group, route in (
        ("safety", SAFETY_FLAGS, "drug_safety"),
        ("medical", MEDICAL_FLAGS, "medical_information"),
    ):
        found, expected, _ = recall(group, examples)
        labelled = [(bool(set(e["flags"]) & group), bool(set(r.flags) & group)) for e, r in results]
        true_pos, raised = sum(a and b for a, b in labelled), sum(b for _, b in labelled)
        positives = [r for e, r in results if set(e["flags"]) & group]
        routed = sum(r.route is not None for r in positives)
        on_route = sum(r.route == route for r in positives)
        hits = sum(bool(set(r.flags) & group) for r in clean)
        lines.append(
            f"{name}: recall {found}/{expected} = {found / expected:.1%} per flag, "
            f"{on_route}/{len(positives)} routed to {route}, {routed}/{len(positives)} routed "
            f"anywhere; precision {true_pos}/{raised} = {true_pos / max(raised, 1):.1%} per "
            f"example; clean texts flagged {hits}/{len(clean)} = {hits / len(clean):.1%}"
        )
    return lines


def test_report_recall_and_precision() -> None:
    """Prints the measured numbers (run with -s); the held-out set is reported, not asserted."""
    for name, examples in (("labelled", EXAMPLES), ("held out", HELD_OUT)):
        print(f"\n{name} ({len(examples)} texts):")
        for line in measured(examples):
            print(f"  {line}")
    assert HELD_OUT


# --- negation, misspelling, tolerance --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "flag"),
    [
        ("No side effects so far.", "adverse_event"),
        ("Patient denies dizziness.", "adverse_event"),
        ("Never had hyperkalaemia on it.", "adverse_event"),
        ("Without any rash or swelling.", "adverse_event"),
        ("She is not pregnant.", "special_situation"),
        ("There was no overdose.", "special_situation"),
        ("The tablets were not damaged.", "product_complaint"),
        ("I have no questions about dose adjustment.", "medical_question"),
        ("We would never use it for hypertension.", "off_label"),
    ],
)
def test_negations_still_flag(text: str, flag: str) -> None:
    assert flag in screened(text).flags


@pytest.mark.parametrize(
    ("text", "flag"),
    [
        ("got dizzyness", "adverse_event"),
        ("had a bad reacton", "adverse_event"),
        ("nausia and diarrea", "adverse_event"),
        ("was hospitilized on day 3", "adverse_event"),
        ("hyperkalemai noted", "adverse_event"),
        ("side efect was mild", "adverse_event"),
        ("she is pregnent", "special_situation"),
        ("medication eror at the pharmacy", "special_situation"),
        ("took too mny pills", "special_situation"),
        ("tablets were discoulored", "product_complaint"),
        ("any contraindicaton?", "medical_question"),
        ("data in HFpEF patients", "off_label"),
    ],
)
def test_misspellings_flag(text: str, flag: str) -> None:
    assert flag in screened(text).flags


@pytest.mark.parametrize("name", ["zelmostatt", "corvana", "Zelmöstat", "CORVANTA's", "korvanta"])
def test_misspelt_or_decorated_product_names_are_the_suspect_product(name: str) -> None:
    assert screened(f"rash on {name}").minimum_elements["suspect_product"]


def test_a_word_that_is_itself_a_term_is_not_a_misspelling_of_another() -> None:
    assert screened("history of hypertension").flags == ["off_label"]
    assert "product_complaint" not in screened("what is the effect on BNP?").flags


def test_short_words_must_be_exact_and_phrases_get_one_edit_fewer() -> None:
    assert [allowed_edits(w) for w in ("rash", "nausea", "dizziness", "hypotension")] == [
        0,
        1,
        1,
        2,
    ]
    assert within_edits("dizzyness", "dizziness", 1)
    assert within_edits("zelmsotat", "zelmostat", 1)  # a swap is one edit
    assert not within_edits("rush", "rash", 0)
    assert screened("Please save to my calendar").route is None  # not "safe to"


def test_normalising_strips_case_accents_apostrophes_and_plurals() -> None:
    assert tokens("Patients' RASHES didn’t   resolve; Café injuries") == [
        "patient",
        "rash",
        "didnt",
        "resolve",
        "cafe",
        "injury",
    ]


NEGATIONS = ["no", "not", "never", "without", "denies", "didn't have any", "no sign of", "free of"]


@settings(max_examples=300, deadline=None)
@given(
    before=st.text(max_size=40),
    after=st.text(max_size=40),
    term=st.sampled_from(SCREENING.terms.adverse_event_terms),
    negation=st.sampled_from(NEGATIONS),
)
def test_a_negation_before_an_adverse_event_term_never_removes_the_flag(
    before: str, after: str, term: str, negation: str
) -> None:
    assert "adverse_event" in screened(f"{before} {term} {after}").flags
    assert "adverse_event" in screened(f"{before} {negation} {term} {after}").flags


# --- what a result says --------------------------------------------------------------------------


def test_matched_terms_are_configured_terms_never_the_surrounding_text() -> None:
    terms = SCREENING.terms
    allowed = {
        "adverse_event": set(terms.adverse_event_terms),
        "special_situation": set(terms.special_situation_terms) | set(terms.use_terms),
        "product_complaint": set(terms.product_complaint_terms),
        "medical_question": set(terms.medical_question_terms),
        "off_label": set(terms.off_label_terms),
    }
    for example in EXAMPLES:
        for match in screened(example["text"]).matched:
            assert match.field == FIELD
            assert match.term in allowed[match.flag]
            assert match.term != example["text"]
    result = screened("Mrs K, 74, fainted twice after her first tablet")
    assert [m.term for m in result.matched] == ["fainted"]


def test_minimum_elements_all_present() -> None:
    result = screened("My 67-year-old patient fainted after starting Corvanta.")
    assert result.minimum_elements == {
        "identifiable_patient": True,
        "identifiable_reporter": True,
        "suspect_product": True,
        "adverse_event": True,
    }


def test_minimum_elements_of_an_incomplete_report_are_recorded_not_required() -> None:
    result = screened("someone at the conference said they got a rash", reporter_identifiable=False)
    assert result.route == "drug_safety"
    assert result.minimum_elements == {
        "identifiable_patient": False,
        "identifiable_reporter": False,
        "suspect_product": False,
        "adverse_event": True,
    }


@pytest.mark.parametrize(
    "text", ["a 72 y/o with dizziness", "aged 80, dizzy", "54F, dizzy", "Mr T got dizzy"]
)
def test_age_sex_and_titles_make_the_patient_identifiable(text: str) -> None:
    assert screened(text, reporter_identifiable=False).minimum_elements["identifiable_patient"]


def test_a_named_third_party_reporter_is_identifiable() -> None:
    result = screened("Dr. Lee here, call me about a rash", reporter_identifiable=False)
    assert result.minimum_elements["identifiable_reporter"]


def test_route_follows_precedence() -> None:
    both = screened("Rash after a dose adjustment in renal impairment")
    assert both.is_safety and both.is_medical and both.route == "drug_safety"
    medical = screened("What dose adjustment in renal impairment?")
    assert (medical.is_safety, medical.is_medical, medical.route) == (
        False,
        True,
        "medical_information",
    )
    assert screened("Please send the brochure").route is None


def test_off_label_use_is_a_special_situation_but_an_off_label_question_is_not() -> None:
    used = screened("I've used it in two HFpEF patients")
    assert used.flags == ["special_situation", "off_label"] and used.route == "drug_safety"
    asked = screened("Can it be used in HFpEF?")
    assert "special_situation" not in asked.flags and asked.route == "medical_information"


def test_every_field_is_screened_and_matches_name_their_field() -> None:
    texts = {"properties.comment": "send the brochure", "properties.fields.question": "is it safe"}
    result = screen(texts, SCREENING)
    assert {m.field for m in result.matched} == {"properties.fields.question"}


# --- free text fields ----------------------------------------------------------------------------


def test_free_text_fields_of_a_form() -> None:
    properties = {
        "form": "contact-us",
        "comment": "patient got dizzy",
        "topics": ["dosing"],
        "url": "https://corvanta.example/side-effects",
        "fields": {"question": "is it safe?", "extra": {"notes": ["one", 2, "two"]}, "n": 3},
        "notes": "",
    }
    assert free_text_fields("form_submitted", properties) == {
        "properties.comment": "patient got dizzy",
        "properties.fields.question": "is it safe?",
        "properties.fields.extra.notes.0": "one",
        "properties.fields.extra.notes.2": "two",
    }


def test_free_text_fields_of_questions_replies_and_disqualifications() -> None:
    assert free_text_fields("medical_question", {"text": "a", "subject": "b", "n": 1}) == {
        "properties.text": "a",
        "properties.subject": "b",
    }
    assert free_text_fields("sample_requested", {"message": "m", "product": "Corvanta"}) == {
        "properties.message": "m"
    }
    assert free_text_fields("disqualified", {"reason": "doc said rash"}) == {
        "properties.reason": "doc said rash"
    }
    assert free_text_fields("page_viewed", {"title": "Side effects", "topics": ["x"]}) == {}


# --- forward_by --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("awareness", "deadline"),
    [
        (utc(2026, 11, 25, 15), utc(2026, 11, 27, 15)),  # Thanksgiving Thursday is skipped
        (utc(2026, 11, 6, 15), utc(2026, 11, 9, 15)),  # Friday -> Monday
        (utc(2026, 1, 16, 15), utc(2026, 1, 20, 15)),  # Friday -> Tuesday (MLK Day Monday)
        (utc(2026, 7, 2, 9), utc(2026, 7, 6, 9)),  # July 3 is Independence Day observed
        (utc(2026, 11, 7, 10), utc(2026, 11, 9, 10)),  # Saturday -> Monday
        (utc(2026, 12, 24, 23, 59), utc(2026, 12, 28, 23, 59)),  # Christmas Friday
    ],
)
def test_forward_within_one_us_business_day(awareness: datetime, deadline: datetime) -> None:
    assert forward_by(awareness, US) == deadline


def test_forward_by_counts_configured_days_and_subdivision_holidays() -> None:
    two_days = SafetyRules(forward_within_business_days=2)
    assert forward_by(utc(2026, 11, 25, 15), two_days) == utc(2026, 11, 30, 15)
    massachusetts = SafetyRules(holiday_subdivision="MA")  # Patriots' Day, Monday 2026-04-20
    assert forward_by(utc(2026, 4, 17, 12), US) == utc(2026, 4, 20, 12)
    assert forward_by(utc(2026, 4, 17, 12), massachusetts) == utc(2026, 4, 21, 12)


def test_forward_by_keeps_the_zone_and_gives_one_instant_one_deadline() -> None:
    local = datetime(2026, 11, 25, 10, tzinfo=NEW_YORK)  # 15:00 UTC
    deadline = forward_by(local, US)
    assert deadline.tzinfo is NEW_YORK and deadline == datetime(2026, 11, 27, 10, tzinfo=NEW_YORK)
    friday_evening = datetime(2026, 11, 6, 22, tzinfo=NEW_YORK)  # already Saturday in UTC
    assert forward_by(friday_evening, US) == forward_by(friday_evening.astimezone(UTC), US)
    assert forward_by(friday_evening, US) == utc(2026, 11, 9, 3)


def test_forward_by_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="aware"):
        forward_by(datetime(2026, 11, 25, 15), US)


# --- redact --------------------------------------------------------------------------------------


def test_redact_never_carries_the_original_text() -> None:
    for example in EXAMPLES:
        texts = {FIELD: example["text"], "properties.fields.company": "Mercy Heart Clinic"}
        result = screen(texts, SCREENING, reporter_identifiable=True)
        replaced = redact(texts, result, case_ref="SC-2026-0042")
        if result.route is None:
            assert replaced == {}
            continue
        assert set(replaced) == set(texts)
        for value in replaced.values():
            assert example["text"] not in value and "Mercy" not in value
            assert value.startswith("[withheld: screened for ") and "SC-2026-0042" in value


def test_redact_names_where_each_field_went() -> None:
    texts = {"properties.comment": "she fainted", "properties.fields.question": "max dose?"}
    replaced = redact(texts, screen(texts, SCREENING), case_ref="SC-7")
    assert replaced == {
        "properties.comment": "[withheld: screened for drug safety, case SC-7]",
        "properties.fields.question": "[withheld: screened for medical information, case SC-7]",
    }
