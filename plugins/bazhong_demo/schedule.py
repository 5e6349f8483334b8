"""The default campaign schedule, after the plan's 三、时间安排 (publicity in May,
implementation June to October, summing-up and acceptance November to December).

The plan does not date applications (the list was declared before it, 附件), a public notice
or the naming; the platform's own steps are placed inside the acceptance months and are
labelled as such.
"""

from __future__ import annotations

from core.plugins.types import PhaseSpec

# (id, label, kind, start MM-DD, end MM-DD)
_PHASES = [
    ("publicity", "宣传发动阶段（细化创建方案，广泛宣传）", "plan", "05-01", "05-31"),
    ("application", "按已申报的创建名单申报示范类型、县区初审", "application", "05-01", "05-31"),
    ("implementation", "组织实施阶段（对照示范社区创建要求开展创建，专项监督检查）", "inspection", "06-01", "10-31"),
    ("acceptance", "总结验收阶段：检查验收、评估验收", "assessment", "11-01", "11-30"),
    ("notice", "验收结果公示（平台流程，方案未作规定）", "notice", "12-01", "12-10"),
    ("decision", "评选授牌市级示范社区、推荐省级示范社区候选", "decision", "12-11", "12-31"),
]


def default_schedule(year: int) -> list[PhaseSpec]:
    return [
        PhaseSpec(id=pid, label=label, kind=kind, start=f"{year}-{start}", end=f"{year}-{end}")
        for pid, label, kind, start, end in _PHASES
    ]
