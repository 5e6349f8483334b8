"""Tianjin 美丽社区 / 精品美丽社区 campaigns: the 2017 rubric (decided by the core's
``threshold`` style), the Dongli 2020 schedule and a demo."""

from __future__ import annotations

from core.plugins import hookimpl
from plugins.tianjin_meili.demo import DEMO
from plugins.tianjin_meili.rubric import RUBRIC_ID, meili_2017
from plugins.tianjin_meili.schedule import default_schedule

__version__ = "0.1.0"
CIVIC_PLUGIN_API = 1


@hookimpl
def civic_rubrics():
    return [meili_2017()]


@hookimpl
def civic_default_schedule(rubric, year):
    if rubric.id != RUBRIC_ID:
        return None
    return default_schedule(year)


@hookimpl
def civic_demos():
    return [DEMO]
