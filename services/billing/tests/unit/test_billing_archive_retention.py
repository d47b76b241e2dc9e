"""Retention of the archive: 8 years after the end of the calendar year."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fw_billing.domain.archive_retention import destroyable_from, expired_years, is_expired


def test_a_year_may_go_exactly_eight_years_after_its_end_in_office_time() -> None:
    # 2026 ends 31.12.2026 24:00 Berlin; + 8 years = 01.01.2035 00:00 Berlin = 31.12.2034 23:00 UTC.
    assert destroyable_from(2026) == datetime(2034, 12, 31, 23, 0, tzinfo=UTC)
    assert not is_expired(2026, datetime(2034, 12, 31, 22, 59, 59, tzinfo=UTC))
    assert is_expired(2026, datetime(2034, 12, 31, 23, 0, tzinfo=UTC))
    assert not is_expired(2026, datetime(2026, 12, 31, tzinfo=UTC))
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        is_expired(2026, datetime(2040, 1, 1))  # noqa: DTZ001 - naive on purpose


def test_expired_years_skip_held_and_young_years() -> None:
    now = datetime(2036, 6, 1, tzinfo=UTC)
    assert expired_years([2029, 2025, 2026, 2027, 2028, 2026], now) == [2025, 2026, 2027]
    assert expired_years([2025, 2026, 2027], now, held=[2026]) == [2025, 2027]
    assert expired_years([2030, 2031], now) == []
