"""Routing by topic × region, and the one-level discount outside the home region."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from index.schema import DEFAULT_TZ, Alert, AlertLevel, Region
from warning.grading import RegionGrader, lower
from warning.routing import Router
from yuqing.config import AgenciesFile, load_model

REPO = Path(__file__).resolve().parents[3]

AGENCIES = AgenciesFile.model_validate({
    "default_agency": "cac",
    "agencies": [
        {"id": "lianxi_eco", "name": "濂溪区生态环境分局", "topics": ["环境保护"], "region_codes": ["360402"]},
        {"id": "eco", "name": "九江市生态环境局", "topics": ["环境保护"], "region_codes": ["3604"]},
        {"id": "housing", "name": "九江市住建局", "topics": ["城乡建设"]},
        {"id": "xunyang", "name": "浔阳区网信办", "region_codes": ["360403"]},
        {"id": "cac", "name": "九江市委网信办"},
    ],
})


def alert(topic: str | None, code: str | None) -> Alert:
    region = Region(district_code=code) if code and len(code) == 6 else Region(city_code=code) if code else None
    when = datetime(2026, 11, 18, 12, tzinfo=DEFAULT_TZ)
    return Alert(id="a", rule="r", rule_type="volume_spike", level="黄", title="t", topic=topic, region=region,
                 window_start=when, window_end=when)


@pytest.mark.parametrize("topic, code, agency", [
    ("环境保护", "360402", "lianxi_eco"),     # the most specific agency listed first wins
    ("环境保护", "360403", "eco"),            # prefix 3604 matches a district of the city
    ("环境保护", "3604", "eco"),
    ("环境保护", "360102", "cac"),            # Nanchang: no environment agency there → default
    ("环境保护", None, "cac"),                # unknown region cannot match a regional agency
    ("城乡建设", "360102", "housing"),        # region-less agency matches everywhere
    ("城乡建设", None, "housing"),
    ("交通运输", "360403", "xunyang"),        # topic-less agency takes every topic in its region
    (None, "360402", "cac"),
])
def test_router_topic_by_region(topic, code, agency):
    routed = Router(AGENCIES).route(alert(topic, code))
    assert routed.agency == agency
    assert routed.agency_name == next(a.name for a in AGENCIES.agencies if a.id == agency)


def test_shipped_agencies_route_environment_to_the_eco_bureau():
    agencies = load_model(REPO / "configs" / "agencies.yaml", AgenciesFile)
    router = Router(agencies)
    assert router.agency_for("环境保护", "360402").id == "eco_env"
    assert router.agency_for("其他", "360402").id == agencies.default_agency
    assert router.agency_for(None, None).id == agencies.default_agency


def test_lower_level():
    assert lower("红") is AlertLevel.orange
    assert lower(AlertLevel.yellow) is AlertLevel.blue
    assert lower("蓝") is None


@pytest.mark.parametrize("level, code, graded", [
    ("橙", "360402", AlertLevel.orange),    # home district
    ("橙", "3604", AlertLevel.orange),      # the home city itself
    ("橙", "360102", AlertLevel.yellow),    # elsewhere: one level lower
    ("红", "11", AlertLevel.orange),
    ("蓝", "360102", None),                 # a 蓝 outside drops
    ("蓝", None, AlertLevel.blue),          # unknown region: no evidence it is far away
])
def test_region_grader(level, code, graded):
    assert RegionGrader(["3604"]).grade(level, code) is graded


def test_region_grader_without_home_region_keeps_levels():
    assert RegionGrader([]).grade("蓝", "110101") is AlertLevel.blue
