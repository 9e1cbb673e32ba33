"""Model lifecycle: until when a base-model version may be trained on and used, and a custom model used.

Azure Custom Speech's rule (seed 004; Azure's lifecycle article): training is possible for one year after
the quarter in which a base model was created, transcription for two years; a custom model transcribes for
two years after the quarter in which it was created. Quarters end on January 15, April 15, July 15 and
October 15, and a date on a quarter end is its own quarter end. This reproduces Azure's published dates
(tests/services/test_lifecycle.py). A date is the first instant at which the action is refused: on
`2026-04-15T00:00:00Z` a model whose transcription date is that day no longer transcribes (a user
reported Azure's "expired today" on the 15th).

The operator chooses the policy (`Settings.lifecycle_policy`): `quarterly` (Azure's rule, with the periods
of `adaptation_months` / `transcription_months`), `periods` (the same periods counted from the creation
instant, without quarter rounding) or `never` (no dates).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from parlance.engines.base import ModelVersion
from parlance.errors import ModelExpired
from parlance.settings import Settings

Clock = Callable[[], datetime]
QUARTER_END_MONTHS = (1, 4, 7, 10)  # each on the 15th


def system_clock() -> datetime:
    return datetime.now(UTC)


def add_months(when: datetime, months: int) -> datetime:
    """`when` moved by whole calendar months; the day is clamped to the target month's length."""
    index = when.month - 1 + months
    year, month = when.year + index // 12, index % 12 + 1
    for day in (when.day, 30, 29, 28):
        try:
            return when.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has 28 days")


def quarter_end(when: datetime) -> datetime:
    """The first quarter end (Jan/Apr/Jul/Oct 15, 00:00 UTC) on or after `when`'s calendar day."""
    day = when.astimezone(UTC).date()
    for year in (day.year, day.year + 1):
        for month in QUARTER_END_MONTHS:
            end = datetime(year, month, 15, tzinfo=UTC)
            if end.date() >= day:
                return end
    raise AssertionError("unreachable: a quarter end follows every day within a year")


@dataclass(frozen=True)
class DeprecationDates:
    """The first instants at which training (`adaptation`) and transcription are refused; None: never."""

    adaptation: datetime | None = None
    transcription: datetime | None = None


class Lifecycle:
    def __init__(self, settings: Settings, clock: Clock = system_clock) -> None:
        self.settings = settings
        self.clock = clock

    def now(self) -> datetime:
        return self.clock()

    def _after(self, created: datetime, months: int) -> datetime | None:
        policy = self.settings.lifecycle_policy
        if policy == "never":
            return None
        start = quarter_end(created) if policy == "quarterly" else created.astimezone(UTC)
        return add_months(start, months)

    def base_dates(self, version: ModelVersion) -> DeprecationDates:
        return DeprecationDates(
            adaptation=self._after(version.created, self.settings.adaptation_months),
            transcription=self._after(version.created, self.settings.transcription_months),
        )

    def custom_dates(self, created: datetime) -> DeprecationDates:
        """A custom model's dates: transcription only (its training follows its base model's dates)."""
        return DeprecationDates(transcription=self._after(created, self.settings.transcription_months))

    def passed(self, date: datetime | None) -> bool:
        return date is not None and self.now() >= date

    def check_adaptation(self, version: ModelVersion, action: str = "trained") -> None:
        """400 once the base-model version's adaptation date has come (training and upgrading)."""
        date = self.base_dates(version).adaptation
        if self.passed(date):
            raise ModelExpired(
                f"Base model version {version.version} can no longer be {action}: its adaptation date "
                f"{iso_date(date)} has passed. Install a newer version of {version.base_model} "
                "(`parlance models install`), or ask the operator to change the lifecycle policy."
            )

    def expiry_warning(self, what: str, date: datetime | None) -> str | None:
        """A warning when `date` comes within `expiry_warning_days` (None otherwise, and once passed)."""
        if date is None or self.passed(date):
            return None
        if date - self.now() <= timedelta(days=self.settings.expiry_warning_days):
            return f"{what} can be used for transcription until {iso_date(date)}; after that it is refused."
        return None


def iso_date(when: datetime | None) -> str | None:
    """Azure's rendering: `2026-04-15T00:00:00Z`."""
    return None if when is None else when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def watson_dates(dates: DeprecationDates) -> dict[str, str]:
    """The dates as extra fields of Watson's model objects (only those the policy gives)."""
    out = {"adaptation_date_time": iso_date(dates.adaptation), "transcription_date_time": iso_date(dates.transcription)}
    return {key: value for key, value in out.items() if value is not None}
