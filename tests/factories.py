"""Where bench/ finds the event factories; tests import them from `tests.helpers.factories`.

Goes when bench/ imports `tests.helpers.factories` itself (bench is not part of this move).
"""

from tests.helpers.factories import CLINICIAN, event_payload, luhn_check_digit, npi_for

__all__ = ["CLINICIAN", "event_payload", "luhn_check_digit", "npi_for"]
