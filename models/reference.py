"""A program's reference data: sales territories, the role/specialty/org-type taxonomy, and
which lead fields routing cannot do without."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# The fields `routing_critical` may name: what enrichment can say is missing or invalid.
ROUTING_FIELDS = frozenset(
    {
        "email",
        "phone",
        "first_name",
        "last_name",
        "npi",
        "crm_id",
        "country",
        "postal_code",
        "organization",
        "role",
        "specialty",
        "org_type",
        "territory",
    }
)

_KEY = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


def term_key(value: str | None) -> str:
    """The lookup form of a taxonomy term: `workflows.scoring.norm`, also dropping dots and
    runs of separators, so 'M.D.', 'Nurse  Practitioner' and 'PA-C' meet their synonyms.

    A canonical snake_case key is its own lookup form, so keys written by `norm` still match.
    """
    text = (value or "").replace(".", "")
    text = " ".join(text.split()).lower().replace(" ", "_").replace("-", "_")
    return re.sub(r"_+", "_", text).strip("_")


def postal_key(value: str | None) -> str:
    """A postal code or prefix as compared: stripped, upper case, no inner spaces."""
    return "".join((value or "").split()).upper()


class Territory(BaseModel):
    """A sales territory: postal-code prefixes of one country (no prefixes: the whole country)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2, upper case")
    postal_prefixes: list[str] = Field(default_factory=list)
    description: str = ""

    @field_validator("postal_prefixes")
    @classmethod
    def _normal_prefixes(cls, prefixes: list[str]) -> list[str]:
        normal = [postal_key(p) for p in prefixes]
        if not all(normal):
            raise ValueError("postal prefixes must not be empty")
        if len(set(normal)) != len(normal):
            raise ValueError("postal prefixes must be unique within a territory")
        return normal


class Taxonomy(BaseModel):
    """Canonical snake_case keys (as scoring uses them) with their synonyms, per field."""

    model_config = ConfigDict(extra="forbid")

    roles: dict[str, list[str]] = Field(default_factory=dict)
    specialties: dict[str, list[str]] = Field(default_factory=dict)
    org_types: dict[str, list[str]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_key_per_synonym(self) -> Taxonomy:
        for name in ("roles", "specialties", "org_types"):
            table: dict[str, list[str]] = getattr(self, name)
            owner: dict[str, str] = {}
            for key in table:
                if not _KEY.match(key):
                    raise ValueError(f"taxonomy.{name}: key {key!r} is not snake_case")
                owner[key] = key
            for key, synonyms in table.items():
                for synonym in synonyms:
                    lookup = term_key(synonym)
                    if not lookup:
                        raise ValueError(f"taxonomy.{name}.{key}: empty synonym")
                    if owner.setdefault(lookup, key) != key:
                        raise ValueError(
                            f"taxonomy.{name}: synonym {synonym!r} maps to both "
                            f"{owner[lookup]} and {key}"
                        )
        return self


class ReferenceData(BaseModel):
    """The `reference:` block of a program file."""

    model_config = ConfigDict(extra="forbid")

    territories: list[Territory] = Field(default_factory=list)
    taxonomy: Taxonomy = Field(default_factory=Taxonomy)
    routing_critical: list[str] = Field(default_factory=lambda: ["email", "country", "role"])
    shared_inbox_prefixes: list[str] = Field(
        default_factory=lambda: ["info", "office", "admin", "contact", "reception", "hello", "team"]
    )

    @field_validator("routing_critical")
    @classmethod
    def _known_fields(cls, fields: list[str]) -> list[str]:
        unknown = sorted(set(fields) - ROUTING_FIELDS)
        if unknown:
            raise ValueError(f"unknown routing-critical fields {unknown}")
        return fields

    @field_validator("shared_inbox_prefixes")
    @classmethod
    def _lower_prefixes(cls, prefixes: list[str]) -> list[str]:
        normal = [p.strip().lower() for p in prefixes]
        if not all(normal):
            raise ValueError("shared inbox prefixes must not be empty")
        return normal

    @model_validator(mode="after")
    def _unambiguous_territories(self) -> ReferenceData:
        ids = [t.id for t in self.territories]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate territory ids {duplicates}")
        claimed: dict[tuple[str, str], str] = {}
        for territory in self.territories:
            # An empty prefix list claims the whole country, written here as prefix "".
            for prefix in territory.postal_prefixes or [""]:
                other = claimed.setdefault((territory.country, prefix), territory.id)
                if other != territory.id:
                    where = f"postal prefix {prefix!r}" if prefix else "the whole country"
                    raise ValueError(
                        f"territories {other} and {territory.id} both claim {where} "
                        f"in {territory.country}"
                    )
        return self
