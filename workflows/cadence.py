"""When the next touch may go out: intervals, clicks, rest periods, caps, quiet hours, weekends.

Pure and deterministic: every function takes `now` and returns times; nothing reads a clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from models.lead_state import LeadState
from models.nurture import Cadence, Cap

SATURDAY = 5


def zone_for(state: LeadState, cadence: Cadence) -> ZoneInfo:
    """The lead's time zone, or the program's default when unknown or invalid."""
    for name in (state.facts.time_zone, cadence.default_time_zone):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def _in_quiet_hours(local: time, cadence: Cadence) -> bool:
    quiet = cadence.quiet_hours
    if quiet is None:
        return False
    if quiet.start <= quiet.end:
        return quiet.start <= local < quiet.end
    return local >= quiet.start or local < quiet.end


def quiet_reason(at: datetime, zone: ZoneInfo, cadence: Cadence) -> str | None:
    """Why `at` is outside the lead's sending window, or None when it is inside."""
    local = at.astimezone(zone)
    if not cadence.send_on_weekends and local.weekday() >= SATURDAY:
        return f"weekend in {zone.key} ({local:%a %H:%M})"
    if _in_quiet_hours(local.time(), cadence):
        return f"quiet hours in {zone.key} ({local:%H:%M})"
    return None


def next_sending_time(at: datetime, zone: ZoneInfo, cadence: Cadence) -> datetime:
    """The first moment at or after `at` that is neither quiet hours nor (if barred) weekend."""
    opening = cadence.quiet_hours.end if cadence.quiet_hours else time(0)
    candidate = at
    for _ in range(10):  # at most: quiet night -> weekend -> Monday morning
        if quiet_reason(candidate, zone, cadence) is None:
            return candidate
        local = candidate.astimezone(zone)
        day = local.date()
        if _in_quiet_hours(local.time(), cadence) and local.time() >= opening:
            day += timedelta(days=1)  # evening: the window opens tomorrow morning
        if not cadence.send_on_weekends:
            while day.weekday() >= SATURDAY:
                day += timedelta(days=1)
        reopened = datetime.combine(day, opening, tzinfo=zone).astimezone(UTC)
        candidate = max(reopened, candidate + timedelta(minutes=1))
    return candidate


def cap_release(sent_at: list[datetime], caps: list[Cap], at: datetime) -> datetime:
    """The earliest time at or after `at` when one more send stays within every rolling cap."""
    release = at
    for _ in range(len(caps) * 2 + 1):  # moving past one cap can never break another
        moved = release
        for cap in caps:
            in_window = sorted(t for t in sent_at if t > moved - cap.window)
            if len(in_window) >= cap.max_sends:
                # Wait until enough of the window's sends age out.
                moved = max(moved, in_window[len(in_window) - cap.max_sends] + cap.window)
        if moved == release:
            return release
        release = moved
    return release


def cap_reason(sent_at: list[datetime], caps: list[Cap], at: datetime) -> str | None:
    for cap in caps:
        count = sum(1 for t in sent_at if t > at - cap.window)
        if count >= cap.max_sends:
            return f"cap {cap.max_sends} per {cap.window} reached ({count} sent)"
    return None


def effective_touch_time(
    planned: datetime,
    state: LeadState,
    cadence: Cadence,
    sent_at: list[datetime],
    *,
    first_touch: bool,
) -> datetime:
    """Move a planned touch past rest periods, caps, quiet hours and weekends."""
    at = planned
    if state.rest_until is not None:
        at = max(at, state.rest_until)
    zone = zone_for(state, cadence)
    for _ in range(5):  # caps and sending windows can push each other; settle both
        capped = cap_release(sent_at, cadence.caps, at)
        windowed = (
            capped
            if first_touch and not cadence.first_touch_respects_quiet_hours
            else next_sending_time(capped, zone, cadence)
        )
        if windowed == at:
            break
        at = windowed
    return at


def send_blocker(
    state: LeadState, cadence: Cadence, sent_at: list[datetime], now: datetime, *, first_touch: bool
) -> str | None:
    """The one recorded check at send time: why a touch may not go out `now` (None = it may)."""
    if state.rest_until is not None and now < state.rest_until:
        return f"resting until {state.rest_until.isoformat()}"
    capped = cap_reason(sent_at, cadence.caps, now)
    if capped:
        return capped
    if first_touch and not cadence.first_touch_respects_quiet_hours:
        return None
    return quiet_reason(now, zone_for(state, cadence), cadence)
