import pytest

from simulator.units import format_duration, parse_count, parse_duration


@pytest.mark.parametrize(
    "text, seconds",
    [("250ms", 0.25), ("29s", 29.0), ("10m", 600.0), ("1h", 3600.0), ("1h30m", 5400.0), ("50us", 5e-5),
     ("1.5s", 1.5), ("2d", 172800.0), (" 3 s ", 3.0)],
)
def test_durations_parse_with_their_units(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["30", "", "ms", "5 parsecs", "1h 2x", "-1s", 30, None, True])
def test_a_duration_without_a_unit_is_refused(bad):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_counts_take_suffixes():
    assert parse_count("50M") == 50e6
    assert parse_count("2k") == 2000
    assert parse_count(7) == 7
    with pytest.raises(ValueError):
        parse_count("lots")


def test_durations_format_back():
    assert [format_duration(x) for x in (0.25, 29, 5400, 1.5)] == ["250ms", "29s", "1h30m", "1.5s"]
