"""Bazhong 城乡社区示范 campaigns: the 2020 demonstration-type checklist rubric (decided by
the core's ``checklist-by-type`` style), the plan's schedule and a demo on the real 2020 list."""

from __future__ import annotations

from core.plugins import hookimpl
from plugins.bazhong_demo.demo import DEMO
from plugins.bazhong_demo.rubric import RUBRIC_ID, demonstration_2020
from plugins.bazhong_demo.schedule import default_schedule

__version__ = "0.1.0"
CIVIC_PLUGIN_API = 1


@hookimpl
def civic_rubrics():
    return [demonstration_2020()]


@hookimpl
def civic_default_schedule(rubric, year):
    if rubric.id != RUBRIC_ID:
        return None
    return default_schedule(year)


@hookimpl
def civic_demos():
    return [DEMO]
