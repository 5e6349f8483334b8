"""The Tianjin 美丽社区 rubric, 2017 edition (津民发〔2017〕18号 附件1), and the provisional
精品美丽社区 level.

The 60 items are transcribed in ``data/meili_2017_items.json``; a test compares them with
the published text item by item.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from core.rubric import Rubric

RUBRIC_ID = "tianjin-meili"
VERSION = "2017"

JINGPIN_NOTE = (
    "暂行标准：东丽区2020年实施方案所附《精品美丽社区创建标准》（附件3）未随文公开，"
    "本级别为平台提供的占位标准（须同时达到美丽社区标准、综合得分不低于90分、居民满意率不低于90%），"
    "并非官方标准，应由市民政局通过配置替换。"
    " Provisional placeholder, not the official 精品 standard (which was not published with the plan): "
    "requires qualifying as 美丽社区, an official total >= 90 and a satisfaction rate >= 90%; "
    "the municipality is expected to replace it by configuration."
)


@cache
def _items() -> dict:
    text = resources.files(__package__).joinpath("data/meili_2017_items.json").read_text(encoding="utf-8")
    return json.loads(text)


def meili_2017() -> Rubric:
    data = _items()
    return Rubric.model_validate(
        {
            "id": RUBRIC_ID,
            "version": VERSION,
            "title": "天津市美丽社区创建指标体系（2017）",
            "source": data["source"],
            "step": 0.5,
            "aggregation": "mean",
            "style": "threshold",
            "categories": data["categories"],
            "veto_items": [],
            "rules": {"require_survey": True},
            "levels": [
                {
                    "id": "meili",
                    "label": "美丽社区",
                    "note": "累计得分在80分以上的为美丽社区；自查自评80分以上方可申报（津民发〔2017〕18号；美丽社区创建方案）。",
                    "rules": {"min_total": 80, "min_self_total": 80},
                },
                {
                    "id": "jingpin",
                    "label": "精品美丽社区（暂行标准）",
                    "provisional": True,
                    "note": JINGPIN_NOTE,
                    "rules": {
                        "min_total": 90,
                        "min_self_total": 90,
                        "min_satisfaction_rate": 0.9,
                        "requires_level": "meili",
                    },
                },
            ],
        }
    )
