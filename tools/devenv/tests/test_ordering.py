"""The order make test hands tests out in (fw_devenv.ordering)."""

from __future__ import annotations

import itertools

from fw_devenv.ordering import spread_long


def test_long_tests_are_spread_over_the_first_70_percent_longest_first() -> None:
    long = {"l30": 30.0, "l90": 90.0, "l60": 60.0, "l10": 10.0}
    items = [f"s{i}" for i in range(50)] + list(long) + [f"s{i}" for i in range(50, 100)]
    out = spread_long(items, lambda i: long.get(i, 0.0))
    assert sorted(out) == sorted(items)
    assert [i for i in out if i in long] == ["l90", "l60", "l30", "l10"]
    assert [i for i in out if i not in long] == [f"s{i}" for i in range(100)]  # short ones keep their order
    places = [out.index(i) for i in ("l90", "l60", "l30", "l10")]
    assert places[0] == 0 and max(places) < 0.7 * len(out)  # the end is short tests only
    gaps = [b - a for a, b in itertools.pairwise(places)]
    assert min(gaps) >= 15  # not bunched: ~18 short tests between two long ones


def test_without_long_tests_or_short_ones_nothing_is_lost() -> None:
    assert spread_long(["a", "b"], lambda _: 0.0) == ["a", "b"]
    assert spread_long(["x", "y"], lambda i: {"x": 1.0, "y": 2.0}[i]) == ["y", "x"]
    assert spread_long(["s", "x", "y"], lambda i: {"x": 1.0, "y": 2.0}.get(i, 0.0)) == ["y", "x", "s"]
