"""Brand-community campaigns (品牌社区，“六好五型”, seed 004): a provisional rubric of the
six goods with the five types as application facts (decided by the core's ``quota-ranking``
style), the monthly / quarterly / year-end schedule and a 52-community demo with a quota of 13.

The demo also records the person awards (十佳社区工作者, 十佳社区志愿者, 最美老姨妈), the
yearly ranking of member departments (the core's generic selections) and monthly /
quarterly / year-end progress records on the campaign.
"""

from __future__ import annotations

from core.plugins import hookimpl
from plugins.brand_community.demo import DEMO
from plugins.brand_community.rubric import RUBRIC_ID, brand_2019
from plugins.brand_community.schedule import default_schedule

__version__ = "0.1.0"
CIVIC_PLUGIN_API = 1


@hookimpl
def civic_rubrics():
    return [brand_2019()]


@hookimpl
def civic_default_schedule(rubric, year):
    if rubric.id != RUBRIC_ID:
        return None
    return default_schedule(year)


@hookimpl
def civic_demos():
    return [DEMO]
