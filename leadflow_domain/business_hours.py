"""Response SLAs in business hours: working hours and days in the lead's time zone, minus the
public holidays of the lead's country (the `holidays` package)."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from models.routing import BusinessHours

MAX_DAYS = 3660  # an SLA never reaches ten years ahead


@lru_cache(maxsize=64)
def _calendar(country: str | None) -> holidays.HolidayBase | None:
    if not country:
        return None
    try:
        return holidays.country_holidays(country.upper())
    except NotImplementedError:  # a country the package does not know: weekends only
        return None


_CALENDAR_LOCK = threading.Lock()  # a calendar fills in years lazily; activities share it


def is_working_day(day: date, hours: BusinessHours, country: str | None) -> bool:
    if day.weekday() not in hours.days:
        return False
    with _CALENDAR_LOCK:
        calendar = _calendar(country)
        return not (calendar is not None and day in calendar)


def add_business_time(
    start: datetime,
    duration: timedelta,
    hours: BusinessHours,
    time_zone: str | None,
    country: str | None,
) -> datetime:
    """The moment `duration` of working time after `start` (in UTC).

    A start outside working hours counts from the next opening: Friday 16:30 plus one business
    hour is Monday 09:30, or Tuesday 09:30 when that Monday is a public holiday.
    """
    if start.tzinfo is None:
        raise ValueError("start must be time-zone aware")
    try:
        zone = ZoneInfo(time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    cursor = start.astimezone(UTC)
    remaining = duration
    day = cursor.astimezone(zone).date()
    for _ in range(MAX_DAYS):
        if is_working_day(day, hours, country):
            opens = datetime.combine(day, hours.start, zone).astimezone(UTC)
            closes = datetime.combine(day, hours.end, zone).astimezone(UTC)
            begin = max(cursor, opens)
            if begin < closes:
                if remaining <= closes - begin:
                    return begin + remaining
                remaining -= closes - begin
        day += timedelta(days=1)
        cursor = max(cursor, datetime.combine(day, time(0), zone).astimezone(UTC))
    raise ValueError("no working time within ten years: check the queue's business hours")
