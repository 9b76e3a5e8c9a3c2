import phonenumbers

from smsportal.forms import region_choices, timezone_choices
from smsportal.regions import REGIONS


def test_region_table_matches_phonenumbers():
    assert set(REGIONS) == set(phonenumbers.SUPPORTED_REGIONS)
    for code, (name, calling_code) in REGIONS.items():
        assert name and calling_code == phonenumbers.country_code_for_region(code), code


def test_region_and_timezone_choices():
    choices = dict(region_choices())
    assert choices["SE"] == "Sweden (SE, +46)" and choices["GR"] == "Greece (GR, +30)"
    assert dict(timezone_choices())["America/New_York"] == "America/New York"
