"""The default campaign schedule, after the cadence of seed 004: a yearly plan (出台年度创建
方案), work broken down by month and met on monthly (每月一碰头), pushed forward every
quarter (每季度一推进), and a year-end summary (年终总结) with the selection and the yearly
commendation (品牌社区风采展示暨三“十佳”表彰活动).

The seed gives the cadence but no dates: the dates below are the platform's placeholders,
which the city owner reschedules per campaign.
"""

from __future__ import annotations

from core.plugins.types import PhaseSpec

_MONTH_END = {2: 28, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30}
_QUARTERS = [("q1", "第一季度", "03"), ("q2", "第二季度", "06"), ("q3", "第三季度", "09")]


def default_schedule(year: int) -> list[PhaseSpec]:
    phases = [
        PhaseSpec(id="plan", label="出台年度创建方案", kind="plan", start=f"{year}-01-01", end=f"{year}-01-31"),
        PhaseSpec(id="application", label="社区申报（自选“五型”创建类型）、街道推荐、区级初审",
                  kind="application", start=f"{year}-02-01", end=f"{year}-02-28"),
    ]
    for month in range(3, 12):
        phases.append(PhaseSpec(
            id=f"checkin-{month:02d}", label=f"每月一碰头（{month}月，按月分解工作任务）", kind="other",
            start=f"{year}-{month:02d}-01", end=f"{year}-{month:02d}-{_MONTH_END[month]:02d}",
        ))
    for qid, qlabel, month in _QUARTERS:
        phases.append(PhaseSpec(
            id=f"push-{qid}", label=f"每季度一推进（{qlabel}推进会）", kind="midterm",
            start=f"{year}-{month}-21", end=f"{year}-{month}-30",
        ))
    phases += [
        PhaseSpec(id="self_assessment", label="社区自查自评", kind="self_assessment",
                  start=f"{year}-11-01", end=f"{year}-11-15"),
        PhaseSpec(id="assessment", label="年终考评（综合评分、满意度测评）", kind="assessment",
                  start=f"{year}-11-16", end=f"{year}-11-30"),
        PhaseSpec(id="notice", label="排名公示", kind="notice", start=f"{year}-12-01", end=f"{year}-12-07"),
        PhaseSpec(id="decision", label="年终总结，按名额评定品牌社区并表彰", kind="decision",
                  start=f"{year}-12-08", end=f"{year}-12-31"),
    ]
    return phases
