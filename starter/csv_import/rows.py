"""Reading a CSV file: its header checked against the mapping, its rows numbered as a
spreadsheet numbers them (the header is row 1)."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from starter.csv_import.mapping import CsvMapping, MappingError


@dataclass(frozen=True)
class CsvPlan:
    """A file checked against its mapping, ready to import."""

    path: Path
    mapping: CsvMapping
    header: list[str]
    records: int
    fingerprint: str

    @property
    def unmapped(self) -> list[str]:
        return [name for name in self.header if name not in self.mapping.columns]


def plan_import(path: Path, mapping: CsvMapping) -> CsvPlan:
    """Read the header, check the mapping's columns are there, count the records.

    Raises:
        MappingError: the file cannot be read, or lacks a mapped column.
    """
    digest = hashlib.sha256(mapping.model_dump_json().encode())
    try:
        with path.open("rb") as raw:
            for chunk in iter(lambda: raw.read(1 << 20), b""):
                digest.update(chunk)
        rows = _records(path, mapping.delimiter)
        header = [name.strip() for name in next(rows, [])]
        records = sum(1 for _ in rows)
    except OSError as err:
        raise MappingError(f"{path}: cannot read the file: {err.strerror}") from None
    except UnicodeDecodeError:
        raise MappingError(f"{path}: not UTF-8 text (save it as 'CSV UTF-8')") from None
    except csv.Error as err:
        raise MappingError(f"{path}: not a readable CSV file: {err}") from None
    if not header:
        raise MappingError(f"{path}: empty file: the first row must name the columns")
    missing = [column for column in mapping.columns if column not in header]
    if missing:
        raise MappingError(
            f"{path}: mapped column(s) not in the header: {', '.join(missing)}"
            f" (the header has: {', '.join(header)})"
        )
    return CsvPlan(path, mapping, header, records, digest.hexdigest())


def _records(path: Path, delimiter: str) -> Iterator[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as text:
        yield from csv.reader(text, delimiter=delimiter)


def read_rows(plan: CsvPlan) -> Iterator[tuple[int, list[str]]]:
    """The file's records after the header, with their spreadsheet row numbers."""
    rows = _records(plan.path, plan.mapping.delimiter)
    next(rows, None)
    yield from enumerate(rows, start=2)
