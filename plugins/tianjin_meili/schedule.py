"""The default campaign schedule, after the Dongli district 2020 plan (津丽民发〔2020〕4号)."""

from __future__ import annotations

from core.plugins.types import PhaseSpec

# (id, label, kind, start MM-DD, end MM-DD, year offset of end)
_PHASES = [
    ("plan", "制定实施方案", "plan", "03-01", "03-10", 0),
    ("application", "确定创建名单（申报、区级初审）", "application", "03-01", "03-12", 0),
    ("training", "培训交流", "training", "03-13", "03-31", 0),
    ("study", "观摩学访", "study", "04-01", "04-30", 0),
    ("inspection", "巡查指导（实地巡查和暗访）", "inspection", "03-21", "10-31", 0),
    ("midterm", "中期推动会", "midterm", "07-01", "07-10", 0),
    ("rectification", "重点整改（8月底前整改到位）", "rectification", "08-01", "08-31", 0),
    ("self_assessment", "区级自查自评与模拟评估", "self_assessment", "09-01", "09-30", 0),
    ("assessment", "市级评估验收", "assessment", "10-01", "10-31", 0),
    ("notice", "满意度测评和公示", "notice", "11-01", "11-10", 0),
    ("decision", "确定最终名单、命名表彰", "decision", "11-11", "11-30", 0),
    ("supervision", "动态监管（回头看）", "supervision", "12-01", "11-30", 1),
]


def default_schedule(year: int) -> list[PhaseSpec]:
    return [
        PhaseSpec(id=pid, label=label, kind=kind, start=f"{year}-{start}", end=f"{year + offset}-{end}")
        for pid, label, kind, start, end, offset in _PHASES
    ]
