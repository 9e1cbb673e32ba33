"""The lifecycle dates: Azure's published examples, the policies, and the moving clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from parlance.errors import BadRequest
from parlance.services.lifecycle import Lifecycle, add_months, iso_date, quarter_end
from parlance.settings import Settings
from tests.conftest import MovableClock
from tests.fakes import fake_version


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def lifecycle(tmp_path: Path, policy: str = "quarterly", clock: MovableClock | None = None) -> Lifecycle:
    settings = Settings(data_dir=tmp_path, lifecycle_policy=policy)  # type: ignore[arg-type]
    return Lifecycle(settings, clock or MovableClock(at("2026-01-01")))


# Azure's published dates (azure-api.md §1.2): base models' adaptation and transcription, custom models'
# transcription.
@pytest.mark.parametrize(
    ("created", "adaptation", "transcription"),
    [
        ("2023-07-19", "2024-10-15T00:00:00Z", "2025-10-15T00:00:00Z"),  # "20230707 Whisper Preview"
        ("2024-02-29", "2025-04-15T00:00:00Z", "2026-04-15T00:00:00Z"),  # "20240228 Whisper Large V2"
    ],
)
def test_base_model_dates_reproduce_azure(tmp_path: Path, created: str, adaptation: str, transcription: str) -> None:
    version = fake_version("en-US_BroadbandModel", "fake-previous")
    version = type(version)(**{**version.__dict__, "created": at(created)})
    dates = lifecycle(tmp_path).base_dates(version)
    assert (iso_date(dates.adaptation), iso_date(dates.transcription)) == (adaptation, transcription)


@pytest.mark.parametrize(
    ("created", "transcription"), [("2022-05-22", "2024-07-15T00:00:00Z"), ("2024-07-14", "2026-07-15T00:00:00Z")]
)
def test_custom_model_dates_reproduce_azure(tmp_path: Path, created: str, transcription: str) -> None:
    dates = lifecycle(tmp_path).custom_dates(at(created))
    assert dates.adaptation is None
    assert iso_date(dates.transcription) == transcription


def test_quarter_ends_on_and_after_the_15th() -> None:
    assert quarter_end(at("2024-07-15T23:59:00")) == at("2024-07-15")
    assert quarter_end(at("2024-07-16")) == at("2024-10-15")
    assert quarter_end(at("2024-10-16")) == at("2025-01-15")
    assert quarter_end(at("2025-01-01")) == at("2025-01-15")


def test_add_months_clamps_the_day() -> None:
    assert add_months(at("2024-01-31"), 1) == at("2024-02-29")
    assert add_months(at("2023-11-30"), 3) == at("2024-02-29")
    assert add_months(at("2024-10-15"), 24) == at("2026-10-15")


def test_other_policies(tmp_path: Path) -> None:
    created = at("2024-02-29T10:00:00")
    periods = lifecycle(tmp_path, "periods").custom_dates(created)
    assert periods.transcription == at("2026-02-28T10:00:00")
    assert lifecycle(tmp_path, "never").custom_dates(created).transcription is None


def test_adaptation_refused_from_its_date_on(tmp_path: Path) -> None:
    clock = MovableClock(at("2027-01-14T23:59:59"))
    version = fake_version("en-US_BroadbandModel", "fake-previous")  # created 2026-01-01 -> adapt 2027-01-15
    life = lifecycle(tmp_path, clock=clock)
    life.check_adaptation(version)
    clock.current = at("2027-01-15")
    with pytest.raises(BadRequest, match=r"2027-01-15T00:00:00Z.*parlance models install"):
        life.check_adaptation(version)


def test_expiry_warning_within_the_window_only(tmp_path: Path) -> None:
    clock = MovableClock(at("2026-01-01"))
    life = lifecycle(tmp_path, clock=clock)
    date = at("2026-03-01")
    assert life.expiry_warning("Custom model x", date) is None
    clock.current = date - timedelta(days=30)
    assert "2026-03-01T00:00:00Z" in (life.expiry_warning("Custom model x", date) or "")
    clock.current = date
    assert life.expiry_warning("Custom model x", date) is None  # passed: an error, not a warning
