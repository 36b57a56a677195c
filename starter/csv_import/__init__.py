"""CSV import (`leadflow import CSV`): each row becomes one lead event, checked like an API
event and delivered by the same intake service. Safe to run again: a row's event id is derived
from the event it makes, so intake answers a re-imported row `duplicate`."""

from starter.csv_import.mapping import CsvMapping, MappingError, build_mapping, row_event
from starter.csv_import.rows import CsvPlan, plan_import, read_rows
from starter.csv_import.run import ImportSummary, RowRejected, checkpoint_path, run_import

__all__ = [
    "CsvMapping",
    "CsvPlan",
    "ImportSummary",
    "MappingError",
    "RowRejected",
    "build_mapping",
    "checkpoint_path",
    "plan_import",
    "read_rows",
    "row_event",
    "run_import",
]
