"""The safety and medical screen of free text for possible adverse events, product
complaints, special situations and medical questions, favouring recall: pure functions, no I/O.

The screen favours recall. It looks for configured terms as whole words after normalising the
text, forgives small misspellings, and deliberately ignores negation: "no side effects so far"
is flagged, because deciding that a report is not a report is drug safety's call, not ours.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from models.events import EventType
from models.screening import (
    MEDICAL_FLAGS,
    SAFETY_FLAGS,
    Flag,
    Match,
    SafetyRules,
    Screening,
    ScreeningTerms,
    ScreenResult,
)

# Flags in the order they are reported; each reads the term list of the same name.
FLAG_LISTS: tuple[tuple[Flag, str], ...] = (
    ("adverse_event", "adverse_event_terms"),
    ("special_situation", "special_situation_terms"),
    ("product_complaint", "product_complaint_terms"),
    ("medical_question", "medical_question_terms"),
    ("off_label", "off_label_terms"),
)
# Property keys that hold free text for any event type (the envelope's `comment` and `text`,
# plus common reply keys).
FREE_TEXT_KEYS = ("comment", "text", "question", "notes", "note", "message", "body", "reply")
# Event types whose every top-level string property is the question itself.
WHOLLY_FREE_TEXT = frozenset({EventType.MEDICAL_QUESTION.value, EventType.TRIAL_QUESTION.value})
# A sales rep's disqualification reason can relay what a physician told them.
EXTRA_KEYS = {EventType.DISQUALIFIED.value: ("reason",)}

# Age or sex written as "67 year old", "67yo", "67 y/o", "aged 67", "67m", "f 54".
_AGE_OR_SEX = re.compile(
    r"\b\d{1,3} ?(?:year|yr|y) ?(?:old|o)\b|\b\d{1,3} ?yo\b|\baged? \d{1,3}\b"
    r"|\b\d{1,3} ?[mf]\b|\b[mf] ?\d{1,3}\b"
)
_APOSTROPHES = str.maketrans("", "", "'\u2019\u2018`\u00b4")
PHRASE_EDITS = 1  # at most allowed_edits(joined phrase) - 1, and allowed_edits is at most 2
_WORD = re.compile(r"[^\W\d_]+|\d+")  # "40mg" is two words, as "40 mg"


def _singular(word: str) -> str:
    """Strip a plural ending so "rashes", "tablets" and "injuries" match their singular."""
    if len(word) <= 3 or not word.isalpha() or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("shes", "ches", "xes", "zzes")):
        return word[:-2]
    return word[:-1] if word.endswith("s") else word


def tokens(text: str) -> list[str]:
    """Lower-case, accent-free, apostrophe-free, singular words of `text`."""
    plain = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return [_singular(w) for w in _WORD.findall(plain.translate(_APOSTROPHES))]


def allowed_edits(term_word: str) -> int:
    """Misspelling tolerance for a term's word: 2 edits from 10 letters, 1 from 6, else 0."""
    return 2 if len(term_word) >= 10 else 1 if len(term_word) >= 6 else 0


def within_edits(a: str, b: str, limit: int) -> bool:
    """Whether the optimal-string-alignment distance (a swap counts once) is <= `limit`."""
    if abs(len(a) - len(b)) > limit:
        return False
    before: list[int] = []
    row = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            current[j] = min(row[j] + 1, current[j - 1] + 1, row[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], before[j - 2] + 1)
        if min(current) > limit:
            return False
        before, row = row, current
    return row[-1] <= limit


def _deletions(word: str, depth: int) -> set[str]:
    found, frontier = {word}, {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        found |= frontier
    return found


Entry = tuple[str, str]  # (list label, term as configured)


@dataclass(frozen=True, eq=False)
class _Lexicon:
    """Labelled terms compiled for lookup.

    A term is found when its words appear in order, each spelt within its own allowance, or
    when one text word, or as many words as the term has starting with a recognisable first
    word, joined are within the allowance of the term's words joined: "sideeffect",
    "side efect", "medication eror". Misspellings are found with a symmetric-deletion index,
    then verified by `within_edits`; the work per word is bounded, so long texts stay cheap.
    """

    entries: tuple[Entry, ...]
    by_first: dict[str, list[tuple[Entry, tuple[str, ...]]]]
    by_joined: dict[str, list[Entry]]
    deletions: dict[str, frozenset[str]]
    allowance: dict[str, int]
    phrase_lengths: dict[str, frozenset[int]]

    def find(self, words: list[str]) -> list[Entry]:
        """The entries present in `words`, in configured order, each once."""
        near = [_near(self, w) for w in words]
        found: set[Entry] = set()
        for i in range(len(words)):
            for candidate in near[i]:
                for entry, form in self.by_first.get(candidate, ()):
                    end = i + len(form)
                    if end <= len(words) and all(
                        form[k] in near[i + k] for k in range(1, len(form))
                    ):
                        found.add(entry)
                found.update(self.by_joined.get(candidate, ()))
            lengths = set().union(*(self.phrase_lengths.get(c, ()) for c in near[i]))
            for n in sorted(n for n in lengths if i + n <= len(words)):
                for candidate in _near(self, "".join(words[i : i + n]), PHRASE_EDITS):
                    found.update(self.by_joined.get(candidate, ()))
        return [entry for entry in self.entries if entry in found]


@lru_cache(maxsize=65_536)
def _near(lexicon: _Lexicon, word: str, most_edits: int = 2) -> frozenset[str]:
    """`word` and every indexed word or joined term it may be a misspelling of.

    A word that is itself a term's word is taken as written: "hypertension" is not a
    misspelling of "hypotension", nor "effect" of "defect".
    """
    depth = min(most_edits, 2 if len(word) >= 8 else 1 if len(word) >= 5 else 0)
    if not lexicon.deletions or depth == 0 or word in lexicon.allowance:
        return frozenset({word})
    candidates = set().union(*(lexicon.deletions.get(d, ()) for d in _deletions(word, depth)))
    allowance = lexicon.allowance
    return frozenset({word} | {c for c in candidates if within_edits(word, c, allowance[c])})


@lru_cache(maxsize=16)
def _lexicon(entries: tuple[Entry, ...], fuzzy: bool, known: tuple[str, ...] = ()) -> _Lexicon:
    by_first: dict[str, list[tuple[Entry, tuple[str, ...]]]] = {}
    by_joined: dict[str, list[Entry]] = {}
    allowance: dict[str, int] = {}
    phrase_lengths: dict[str, set[int]] = {}
    for entry in dict.fromkeys(entries):
        words = tuple(tokens(entry[1]))
        by_first.setdefault(words[0], []).append((entry, words))
        spellings = {w: allowed_edits(w) for w in words}
        if len(words) > 1:
            joined = "".join(words)
            by_joined.setdefault(joined, []).append(entry)
            # One edit fewer across a phrase: its short words change meaning ("save to").
            spellings[joined] = max(spellings.get(joined, 0), allowed_edits(joined) - 1)
            phrase_lengths.setdefault(words[0], set()).add(len(words))
        for spelling, edits in spellings.items():
            allowance[spelling] = max(allowance.get(spelling, 0), edits if fuzzy else 0)
    for word in (w for known_word in known for w in tokens(known_word)):
        allowance.setdefault(word, 0)  # taken as written: "leaving" is not "leaking"
    deletions: dict[str, set[str]] = {}
    for spelling, edits in allowance.items():
        for deleted in _deletions(spelling, edits) if edits else ():
            deletions.setdefault(deleted, set()).add(spelling)
    return _Lexicon(
        entries=tuple(dict.fromkeys(entries)),
        by_first=by_first,
        by_joined=by_joined,
        deletions={k: frozenset(v) for k, v in deletions.items()},
        allowance=allowance,
        phrase_lengths={k: frozenset(v) for k, v in phrase_lengths.items()},
    )


def _compiled(terms: ScreeningTerms) -> tuple[_Lexicon, _Lexicon]:
    """The flag lists and product terms (misspellings forgiven), and the hint lists (exact)."""
    fuzzy: list[Entry] = [(flag, t) for flag, name in FLAG_LISTS for t in getattr(terms, name)]
    fuzzy += [("product", t) for t in terms.product_terms]
    exact = [
        (label, t)
        for label in ("patient", "reporter", "use")
        for t in getattr(terms, f"{label}_terms")
    ]
    known = tuple(terms.known_words)
    return _lexicon(tuple(fuzzy), True, known), _lexicon(tuple(exact), False)


def _field_matches(field: str, found: list[Entry], hints: list[Entry]) -> Iterator[Match]:
    flags = dict(FLAG_LISTS)
    yield from (Match(field=field, flag=label, term=t) for label, t in found if label in flags)
    # Off-label *use*, not a question about it, is a special situation for drug safety.
    if any(label == "off_label" for label, _ in found):
        uses = [t for label, t in hints if label == "use"]
        yield from (Match(field=field, flag="special_situation", term=t) for t in uses[:1])


def screen(
    texts: dict[str, str], screening: Screening, reporter_identifiable: bool = False
) -> ScreenResult:
    """Screen every free-text field of one event.

    Args:
        texts: field path (e.g. "properties.comment") -> its text; see `free_text_fields`.
        screening: the program's term lists.
        reporter_identifiable: the submitter can be contacted (the lead has contact data).
    """
    fuzzy, exact = _compiled(screening.terms)
    matched: list[Match] = []
    labels: set[str] = set()
    for field, text in texts.items():
        words = tokens(text)
        found, hints = fuzzy.find(words), exact.find(words)
        matched += [m for m in _field_matches(field, found, hints) if m not in matched]
        labels |= {label for label, _ in found + hints}
        if _AGE_OR_SEX.search(" ".join(words)):
            labels.add("patient")
    raised = {m.flag for m in matched}
    flags = [flag for flag, _ in FLAG_LISTS if flag in raised]
    is_safety, is_medical = bool(raised & SAFETY_FLAGS), bool(raised & MEDICAL_FLAGS)
    return ScreenResult(
        flags=flags,
        matched=matched,
        minimum_elements={
            "identifiable_patient": "patient" in labels,
            "identifiable_reporter": reporter_identifiable or "reporter" in labels,
            "suspect_product": "product" in labels,
            "adverse_event": "adverse_event" in raised,
        },
        is_safety=is_safety,
        is_medical=is_medical,
        route="drug_safety" if is_safety else "medical_information" if is_medical else None,
    )


def _strings(path: str, value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        if any(c.isalnum() for c in value):
            yield path, value
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield from _strings(f"{path}.{key}", inner)
    elif isinstance(value, list | tuple):
        for index, inner in enumerate(value):
            yield from _strings(f"{path}.{index}", inner)


def free_text_fields(event_type: str, properties: dict[str, Any]) -> dict[str, str]:
    """Every free-text property of an event, by path, for `screen`.

    Free text is `comment`, `text`, `question`, `notes`, `message` (and `note`, `body`,
    `reply`), every string anywhere inside `fields`, every top-level string of a medical or
    trial question, and a disqualification `reason`. Structured properties (topics, urls,
    asset ids) are not screened.
    """
    keys = FREE_TEXT_KEYS + ("fields",) + EXTRA_KEYS.get(event_type, ())
    chosen: Iterable[str] = properties if event_type in WHOLLY_FREE_TEXT else keys
    found: dict[str, str] = {}
    for key in chosen:
        value = properties.get(key)
        if key in keys or isinstance(value, str):
            found.update(_strings(f"properties.{key}", value))
    return found


@lru_cache(maxsize=256)
def _holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    import holidays  # the calendar data is only needed when a case is opened

    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year))


def is_business_day(day: date, rules: SafetyRules) -> bool:
    """Monday to Friday and not a public holiday (observed days included) of the calendar."""
    country, subdivision = rules.holiday_country, rules.holiday_subdivision
    return day.weekday() < 5 and day not in _holidays(country, subdivision, day.year)


def forward_by(awareness_at: datetime, rules: SafetyRules) -> datetime:
    """When a safety case must have reached drug safety: one business day
    after awareness by default, public holidays excluded.

    Business days are counted on UTC calendar dates, so one instant always gets one deadline
    whatever zone it is written in (and replays agree): the deadline is the same UTC time of
    day on the N-th business day after the UTC date of awareness, returned in awareness_at's
    zone. Awareness on a weekend or holiday counts from the next business day: Saturday
    10:00 with 1 business day is Monday 10:00.
    """
    if awareness_at.tzinfo is None or awareness_at.utcoffset() is None:
        raise ValueError("awareness_at must be time-zone aware")
    start = awareness_at.astimezone(UTC)
    day, left = start.date(), rules.forward_within_business_days
    while left:
        day += timedelta(days=1)
        if is_business_day(day, rules):
            left -= 1
    return (start + timedelta(days=(day - start.date()).days)).astimezone(awareness_at.tzinfo)


def redact(texts: dict[str, str], result: ScreenResult, case_ref: str) -> dict[str, str]:
    """Replacement text for the commercial side's copy of a screened event: safety and medical
    text never reaches sales, scoring or emails, only the case reference.

    Nothing is withheld from an event the screen did not route. From a routed event every
    screened field is withheld, not only the flagged ones, because a neighbouring field
    (an age, a second comment) is part of the same report.
    """
    if result.route is None:
        return {}
    flagged = result.flagged_fields()
    default = "drug safety" if result.route == "drug_safety" else "medical information"
    replaced: dict[str, str] = {}
    for field in texts:
        flags = flagged.get(field, set())
        where = "drug safety" if flags & SAFETY_FLAGS else "medical information" if flags else None
        replaced[field] = f"[withheld: screened for {where or default}, case {case_ref}]"
    return replaced
