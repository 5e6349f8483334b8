"""The brand-community rubric (品牌社区，“六好五型”), after seed 004.

The seed (《2019民政局品牌社区创建工作经验交流材料》) names the six goods (自治好、管理好、
服务好、治安好、环境好、风尚好) and the five types (便民服务型、温馨关爱型、文明祥和型、
文体活跃型、平安宜居型) and says 13 brand communities were selected out of 52, but it
publishes no items and no points. ``data/brand_2019.json`` therefore holds a **provisional**
rubric: the items are drawn from the seed's descriptions (each item's provenance, a quote
or ``placeholder``, is kept in the data file) and the equal weights (20 points per good,
5 per item, 120 in all) are the platform's placeholder. The rubric and its one level are
labelled provisional everywhere they are shown; a municipality replaces them by
configuration.

The five types are rubric data (``rules.types``): each application declares the type it
stands for as the fact ``type``, which the decision style checks.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from core.rubric import Rubric

RUBRIC_ID = "brand-community"
VERSION = "2019"
LEVEL = "brand"


@cache
def data() -> dict[str, Any]:
    """The rubric data file, parsed (categories, types, source, note, item provenance)."""
    text = resources.files(__package__).joinpath("data/brand_2019.json").read_text(encoding="utf-8")
    return json.loads(text)


def brand_2019() -> Rubric:
    raw = data()
    return Rubric.model_validate(
        {
            "id": RUBRIC_ID,
            "version": VERSION,
            "title": "品牌社区（六好五型）创建评价标准（暂行）",
            "source": raw["source"],
            "step": 0.5,
            "aggregation": "mean",
            "style": "quota-ranking",
            "provisional": True,
            "categories": raw["categories"],
            "veto_items": [],
            "rules": {"types": raw["types"], "type_fact": "type", "require_survey": True, "reserve_places": None},
            "levels": [
                {
                    "id": LEVEL,
                    "label": "品牌社区（暂行标准）",
                    "provisional": True,
                    "note": raw["note"],
                    "rules": {},
                }
            ],
        }
    )
