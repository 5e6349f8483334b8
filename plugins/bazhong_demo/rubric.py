"""Bazhong's 城乡社区示范 (urban and rural community demonstration) rubric, 2020.

From 《巴中市城乡社区示范创建行动实施方案》 (中共巴中市委组织部、巴中市民政局, May 2020).
The plan publishes no point table: it names six demonstration types and, for each, what a
demonstration community does. Those requirements are transcribed as checklist items
(``data/demonstration_2020.json``) that assessors find met (1) or not met (0) with
evidence; the six types are the rubric's levels, and a community applies once per type.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from importlib import resources

from core.rubric import Rubric
from core.styles import ChecklistByTypeStyle

RUBRIC_ID = "bazhong-demonstration"
VERSION = "2020"
STYLE = "checklist-by-type"


@cache
def _data() -> dict:
    text = resources.files(__package__).joinpath("data/demonstration_2020.json").read_text(encoding="utf-8")
    return json.loads(text)


def demonstration_2020() -> Rubric:
    data = _data()
    return Rubric.model_validate(
        {
            "id": RUBRIC_ID,
            "version": VERSION,
            "title": "巴中市城乡社区示范创建（2020）",
            "source": data["source"],
            "step": 1,
            # with 0/1 points the mean is 1 only when every assessor found the item met
            "aggregation": "mean",
            "style": STYLE,
            "categories": data["categories"],
            "veto_items": [],
            "rules": {},
            "levels": data["levels"],
        }
    )


def checklist_sheet(rubric: Rubric, levels: Iterable[str], unmet: Iterable[str] = ()) -> dict[str, str]:
    """A complete sheet: every item the ``levels`` require met ("1") except ``unmet``, every
    other item "0". For demonstrations and tests."""
    style = ChecklistByTypeStyle()
    met = {item for level in levels for item in style.required_items(rubric, level)} - set(unmet)
    return {item.id: "1" if item.id in met else "0" for item in rubric.items()}
