"""Rubrics as validated, hashed data, and the core's threshold decision style on the Tianjin
rubric, tested directly (no event store)."""

from __future__ import annotations

import copy
import hashlib
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from pydantic import ValidationError

from core.plugins.types import CandidateEvidence, DecisionContext, Outcome
from core.rubric import Rubric, subtotals
from core.styles import ThresholdStyle
from plugins.tianjin_meili.rubric import meili_2017

# --------------------------------------------------------------------------------------
# A small rubric to break in every way
# --------------------------------------------------------------------------------------


def small() -> dict[str, Any]:
    """Two categories (3 + 2.5 points), a basic and a premium level (threshold style)."""
    return {
        "id": "test-rubric",
        "version": "1",
        "title": "测试指标体系",
        "style": "threshold",
        "categories": [
            {
                "id": "a",
                "title": "甲类",
                "max_points": 3,
                "items": [
                    {"id": "a1", "text": "社区党组织健全", "max_points": 1},
                    {"id": "a2", "text": "居民代表会议作用发挥好", "max_points": 2},
                ],
            },
            {
                "id": "b",
                "title": "乙类",
                "max_points": 2.5,
                "items": [{"id": "b1", "text": "社区环境整洁", "max_points": 2.5}],
            },
        ],
        "veto_items": [{"id": "V1", "text": "发生重大刑事案件"}],
        "levels": [
            {"id": "basic", "label": "基础", "rules": {"min_total": 4, "min_self_total": 4}},
            {"id": "premium", "label": "精品", "rules": {"min_total": 3, "requires_level": "basic"}},
        ],
        "rules": {"require_survey": False},
    }


def reversed_keys(value: Any) -> Any:
    """The same data with every dict's keys inserted in the opposite order."""
    if isinstance(value, dict):
        return {k: reversed_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reversed_keys(v) for v in value]
    return value


def refused(data: dict[str, Any], *parts: str) -> str:
    with pytest.raises(ValidationError) as info:
        Rubric.model_validate(data)
    message = str(info.value)
    for part in parts:
        assert part in message, f"{part!r} not in {message}"
    return message


class TestRubricValidation:
    def test_the_small_rubric_is_valid(self):
        rubric = Rubric.model_validate(small())
        assert rubric.max_total == Decimal("5.5")
        assert [i.id for i in rubric.items()] == ["a1", "a2", "b1"]
        assert rubric.category_of("b1").id == "b" and rubric.ref == "test-rubric@1"
        assert rubric.step == Decimal("0.5") and rubric.aggregation == "mean"

    def test_category_maximum_must_equal_the_sum_of_its_items(self):
        data = small()
        data["categories"][0]["max_points"] = 4
        refused(data, "category 'a': items add up to 3, but the declared maximum is 4")
        data["categories"][0]["max_points"] = 2.5
        refused(data, "category 'a'", "declared maximum is 2.5")

    def test_item_ids_are_unique_across_categories(self):
        data = small()
        data["categories"][1]["items"][0]["id"] = "a2"
        refused(data, "item id 'a2' is used twice")

    def test_item_maximum_must_be_a_multiple_of_the_step(self):
        data = small()
        data["categories"][0]["items"][1]["max_points"] = 1.75
        data["categories"][0]["max_points"] = 2.75
        refused(data, "item 'a2': max_points 1.75 is not a multiple of step 0.5")
        data["step"] = 0.25  # the same points are fine on a finer scale
        assert Rubric.model_validate(data).max_total == Decimal("5.25")

    def test_level_and_veto_ids_are_unique(self):
        data = small()
        data["levels"][1]["id"] = "basic"
        refused(data, "level ids must be unique", "['basic', 'basic']")
        data = small()
        data["veto_items"].append({"id": "V1", "text": "另一项"})
        refused(data, "veto item ids must be unique", "['V1', 'V1']")

    def test_shape_errors(self):
        data = small()
        data["categories"][0]["items"][0]["max_points"] = 0
        refused(data, "categories.0.items.0.max_points")
        data = small()
        data["id"] = "Test Rubric"
        refused(data, "id", "String should match pattern")
        data = small()
        data["categories"][0]["items"][0]["weight"] = 1
        refused(data, "weight", "Extra inputs are not permitted")
        data = small()
        data["levels"] = []
        refused(data, "levels")


class TestCanonicalJsonAndHash:
    def test_hash_is_sha256_of_the_canonical_json(self):
        rubric = Rubric.model_validate(small())
        text = rubric.canonical_json()
        assert rubric.content_hash == "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
        assert " " not in text.replace("测试指标体系", "") and "社区党组织健全" in text  # compact, not \\u-escaped
        assert text.index('"categories"') < text.index('"id"') < text.index('"levels"')  # sorted keys

    def test_stable_across_key_order_and_number_spelling(self):
        data = small()
        flipped = reversed_keys(data)
        assert list(flipped) != list(data)
        spelled = copy.deepcopy(data)
        spelled["categories"][0]["items"][1]["max_points"] = "2.0"
        spelled["categories"][1]["max_points"] = Decimal("2.50")
        hashes = {Rubric.model_validate(d).content_hash for d in (data, flipped, spelled)}
        assert len(hashes) == 1
        assert Rubric.model_validate(data).canonical_json() == Rubric.model_validate(flipped).canonical_json()

    def test_any_one_character_change_in_an_item_text_changes_the_hash(self):
        base = Rubric.model_validate(small())
        text = base.items()[1].text
        seen = {base.content_hash}
        for position in range(len(text)):
            data = small()
            data["categories"][0]["items"][1]["text"] = text[:position] + "某" + text[position + 1:]
            changed = Rubric.model_validate(data)
            assert changed.content_hash not in seen
            seen.add(changed.content_hash)
        data = small()
        data["categories"][0]["items"][1]["text"] = text + "。"
        assert Rubric.model_validate(data).content_hash not in seen

    def test_other_changes_change_the_hash_too(self):
        base = Rubric.model_validate(small()).content_hash
        for path, value in [
            (("version",), "2"),
            (("levels", 0, "rules", "min_total"), 4.5),
            (("levels", 1, "provisional"), True),
            (("veto_items", 0, "text"), "发生重大刑事案件。"),
        ]:
            data = small()
            target = data
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
            assert Rubric.model_validate(data).content_hash != base, path


class TestSubtotals:
    def test_exact_decimal_arithmetic(self):
        rubric = Rubric.model_validate(small())
        per_category, total = subtotals(rubric, {"a1": Fraction(1, 2), "a2": Fraction(3, 2), "b1": Fraction(5, 2)})
        assert per_category == {"a": Fraction(2), "b": Fraction(5, 2)}
        assert total == Fraction(9, 2) and isinstance(total, Fraction)
        # points given as decimals are taken exactly; a mean over assessors stays a fraction
        per_category, total = subtotals(rubric, {"a1": Decimal("0.5"), "a2": Fraction(5, 3), "b1": Decimal("2.5")})
        assert per_category == {"a": Fraction(13, 6), "b": Fraction(5, 2)}
        assert total == Fraction(14, 3) and all(isinstance(v, Fraction) for v in [total, *per_category.values()])

    def test_missing_items_count_as_zero_and_unknown_ids_are_ignored(self):
        rubric = Rubric.model_validate(small())
        assert subtotals(rubric, {"a2": Decimal("2")}) == ({"a": Decimal("2"), "b": Decimal("0")}, Decimal("2"))
        assert subtotals(rubric, {}) == ({"a": Decimal(0), "b": Decimal(0)}, Decimal(0))
        assert subtotals(rubric, {"zz": Decimal("9")})[1] == 0

    def test_tianjin_full_and_half_marks(self):
        rubric = meili_2017()
        full = {i.id: i.max_points for i in rubric.items()}
        per_category, total = subtotals(rubric, full)
        assert list(per_category.values()) == [Decimal(n) for n in (18, 17, 20, 20, 12, 13)]
        assert total == Decimal(100)
        # many small decimals add up exactly (0.5 x 60 = 30)
        assert subtotals(rubric, {i.id: Decimal("0.5") for i in rubric.items()})[1] == Decimal("30.0")


class TestTianjinRubric:
    def test_categories_items_and_points(self):
        rubric = meili_2017()
        assert rubric.ref == "tianjin-meili@2017" and rubric.style == "threshold"
        assert [c.title for c in rubric.categories] == [
            "居民自治规范化", "管理手段科学化", "办事服务便捷化", "人文环境宜居化", "生活方式文明化", "群众参与广泛化",
        ]
        assert [c.max_points for c in rubric.categories] == [Decimal(n) for n in (18, 17, 20, 20, 12, 13)]
        assert [len(c.items) for c in rubric.categories] == [8, 13, 16, 8, 7, 8]
        assert rubric.max_total == 100 and len(rubric.items()) == 60
        assert [i.id for i in rubric.items()] == [str(n) for n in range(1, 61)]
        assert all(Decimal(1) <= i.max_points <= 3 and i.max_points % Decimal("0.5") == 0 for i in rubric.items())
        assert rubric.step == Decimal("0.5") and rubric.veto_items == []

    def test_levels_and_the_provisional_premium_standard(self):
        rubric = meili_2017()
        meili, jingpin = rubric.level("meili"), rubric.level("jingpin")
        assert [lv.id for lv in rubric.levels] == ["meili", "jingpin"]
        assert meili.label == "美丽社区" and not meili.provisional
        assert meili.rules == {"min_total": 80, "min_self_total": 80}
        assert jingpin.provisional and "暂行" in jingpin.label
        assert "并非官方标准" in jingpin.note and "not the official" in jingpin.note
        assert jingpin.rules["requires_level"] == "meili" and jingpin.rules["min_satisfaction_rate"] == 0.9
        assert rubric.is_provisional and not rubric.provisional
        assert meili_2017().content_hash == rubric.content_hash  # the same data, the same hash


# --------------------------------------------------------------------------------------
# ThresholdStyle with hand-built evidence
# --------------------------------------------------------------------------------------

STYLE = ThresholdStyle()
SATISFIED = {"respondents": 200, "households": 200, "satisfied": 180, "basically_satisfied": 10,
             "dissatisfied": 10, "satisfaction_rate": Fraction(19, 20), "participation_rate": Fraction(1, 6)}


def candidate(
    total: str | int | float,
    level: str = "meili",
    *,
    vetoes: list[str] | None = None,
    survey: dict[str, Any] | None | str = "default",
    rate: str | None = None,
    upheld: int = 0,
    open_objections: int = 0,
    titles: list[str] | None = None,
    cid: str = "cand-1",
) -> CandidateEvidence:
    total = Fraction(str(total))
    if survey == "default":
        survey = dict(SATISFIED)
        if rate is not None:
            survey["satisfaction_rate"] = Fraction(rate)
    return CandidateEvidence(
        candidacy_id=cid,
        community_id="community-1",
        community_name="詹滨里社区",
        level=level,
        item_points={"1": Fraction(2)},
        subtotals={"self_governance": total},
        total=total,
        assessors=["assessor-1", "assessor-2"],
        self_total=Fraction(90),
        mock_total=None,
        application_total=Fraction(90),
        vetoes=list(vetoes or []),
        survey=survey,
        objections={"open": open_objections, "upheld": upheld, "dismissed": 0},
        titles_held=list(titles or []),
    )


def judge(evidence: CandidateEvidence, *, final: bool = True, rubric: Rubric | None = None) -> Outcome:
    rubric = rubric or meili_2017()
    run = STYLE.decide if final else STYLE.preliminary
    context = DecisionContext(rubric=rubric, levels=[lv.id for lv in rubric.levels])
    (outcome,) = run(context, [evidence])
    assert outcome.candidacy_id == evidence.candidacy_id
    return outcome


def failed(outcome: Outcome) -> list[str]:
    return [ch["rule"] for ch in outcome.derivation["checks"] if not ch["passed"]]


class TestThresholdStyle:
    def test_named_at_exactly_80_and_not_at_79_5(self):
        passed = judge(candidate(80))
        assert passed.named and failed(passed) == []
        assert passed.reasons == ["达到美丽社区标准 (meets every rule of meili)"]
        short = judge(candidate("79.5"))
        assert not short.named and failed(short) == ["min_total"]
        assert short.reasons == ["综合得分 79.50 低于 80 分 (official total 79.50 is below 80)"]
        check = short.derivation["checks"][2]
        assert check["rule"] == "min_total"
        assert (check["required"], check["actual"]) == ("80", {"exact": "159/2", "published": "79.50"})
        assert not judge(candidate("79.5"), final=False).named
        # the exact total is compared: 79.996 publishes as 80.00 but stays below the line
        close = judge(candidate("79.996"))
        assert not close.named and failed(close) == ["min_total"]
        assert close.reasons == ["综合得分 80.00（精确值 19999/250）低于 80 分 "
                                 "(official total 80.00, exactly 19999/250, is below 80)"]

    def test_a_veto_blocks_at_both_stages(self):
        for final in (False, True):
            outcome = judge(candidate(99, vetoes=["V1"]), final=final)
            assert not outcome.named and failed(outcome) == ["no_veto"]
            assert outcome.reasons == ["一票否决项 V1 (veto item(s) apply)"]

    def test_an_upheld_objection_blocks_only_the_final_decision(self):
        evidence = candidate(92, upheld=1)
        preliminary = judge(evidence, final=False)
        assert preliminary.named and preliminary.derivation["stage"] == "preliminary"
        assert "no_upheld_objection" not in [ch["rule"] for ch in preliminary.derivation["checks"]]
        final = judge(evidence)
        assert not final.named and failed(final) == ["no_upheld_objection"]
        assert final.derivation["stage"] == "final"
        assert judge(candidate(92, open_objections=1)).named  # dismissed/open counts are not "upheld"

    def test_a_missing_survey_blocks_both_stages(self):
        evidence = candidate(92, survey=None)
        for final in (False, True):
            outcome = judge(evidence, final=final)
            assert not outcome.named and failed(outcome) == ["survey_recorded"]
            assert outcome.reasons == ["未进行满意度测评 (no satisfaction survey recorded)"]
        # a rubric that does not require the survey names the candidate without one
        small_rubric = Rubric.model_validate(small())
        assert judge(candidate(5, level="basic", survey=None), rubric=small_rubric).named

    def test_premium_needs_the_satisfaction_rate(self):
        assert judge(candidate(92, "jingpin", rate="0.9")).named  # exactly 90%
        low = judge(candidate(92, "jingpin", rate="0.8999"))
        assert not low.named and failed(low) == ["min_satisfaction_rate"]
        (check,) = [ch for ch in low.derivation["checks"] if ch["rule"] == "min_satisfaction_rate"]
        assert check["required"] == "0.9" and check["actual"] == {"exact": "8999/10000", "published": "89.99%"}
        assert low.reasons[0] == "满意率 89.99% 低于 90% (satisfaction rate 89.99% is below 90%)"
        assert not judge(candidate(92, "jingpin", rate="0.8999"), final=False).named  # checked at both stages
        none = judge(candidate(92, "jingpin", survey=None))
        # without a survey the community does not qualify for 美丽社区 either
        assert failed(none) == ["survey_recorded", "min_satisfaction_rate", "requires_level"]
        assert none.reasons[1] == "无满意率 (no satisfaction rate recorded)"
        below = judge(candidate("89.5", "jingpin"))
        assert failed(below) == ["min_total"]

    def test_premium_needs_the_basic_level_held_or_concurrently_qualified(self):
        rubric = Rubric.model_validate(small())  # premium: min_total 3, requires basic (min_total 4)
        concurrently = judge(candidate("4.5", "premium"), rubric=rubric)
        held = judge(candidate("3.5", "premium", titles=["basic"]), rubric=rubric)
        neither = judge(candidate("3.5", "premium"), rubric=rubric)
        assert concurrently.named and held.named and not neither.named
        states = [[ch["actual"] for ch in o.derivation["checks"] if ch["rule"] == "requires_level"] for o in
                  (concurrently, held, neither)]
        assert states == [["qualifies"], ["held"], ["does not qualify"]]
        assert failed(neither) == ["requires_level"]
        assert neither.reasons == ["未获得且未同时获评基础 (does not hold and is not awarded basic: does not qualify)"]
        # a veto also stops concurrent qualification
        vetoed = judge(candidate("4.5", "premium", vetoes=["V1"]), rubric=rubric)
        assert failed(vetoed) == ["no_veto", "requires_level"]
        # Tianjin: a 92-point community qualifies for 美丽社区 concurrently, or holds it already
        def requires(outcome: Outcome) -> str:
            (check,) = [ch for ch in outcome.derivation["checks"] if ch["rule"] == "requires_level"]
            return check["actual"]

        assert requires(judge(candidate(92, "jingpin"))) == "qualifies"
        assert requires(judge(candidate(92, "jingpin", titles=["meili"]))) == "held"

    def test_provisional_levels_say_so_in_reasons_and_derivation(self):
        premium = judge(candidate(92, "jingpin"))
        assert premium.named and premium.derivation["provisional"] is True
        assert premium.reasons[0] == "达到精品美丽社区（暂行标准）标准 (meets every rule of jingpin)"
        assert premium.reasons[1].startswith("暂行标准，非官方 (provisional standard: 暂行标准：")
        basic = judge(candidate(92))
        assert basic.derivation["provisional"] is False and len(basic.reasons) == 1

    def test_outcomes_are_deterministic(self):
        rubric = meili_2017()
        batch = [candidate(92, "jingpin", cid="a"), candidate("79.5", "jingpin", cid="b", upheld=1),
                 candidate(95, "jingpin", cid="c", vetoes=["V1"], survey=None)]
        context = DecisionContext(rubric=rubric, levels=["meili", "jingpin"])
        first = STYLE.decide(context, batch)
        again = ThresholdStyle().decide(DecisionContext(meili_2017(), ["meili", "jingpin"]), [copy.deepcopy(c) for c in batch])
        assert first == again
        assert [o.candidacy_id for o in first] == ["a", "b", "c"]
        assert [o.named for o in first] == [True, False, False]
        assert STYLE.preliminary(context, batch) == STYLE.preliminary(context, batch)

    def test_premium_follows_the_basic_outcome_of_the_same_decision(self):
        context = DecisionContext(rubric=meili_2017(), levels=["meili", "jingpin"])
        # the same community stands for both levels; its 美丽社区 candidacy has an upheld objection
        basic = candidate(92, "meili", cid="basic", upheld=1)
        premium = candidate(92, "jingpin", cid="premium")
        outcomes = {o.candidacy_id: o for o in STYLE.decide(context, [premium, basic])}
        assert not outcomes["basic"].named and not outcomes["premium"].named
        check = [ch for ch in outcomes["premium"].derivation["checks"] if ch["rule"] == "requires_level"][0]
        assert check["actual"] == "refused in this decision"
        # without the objection both are named, whatever order they come in
        outcomes = {o.candidacy_id: o for o in STYLE.decide(context, [premium, candidate(92, "meili", cid="basic")])}
        assert outcomes["basic"].named and outcomes["premium"].named
        check = [ch for ch in outcomes["premium"].derivation["checks"] if ch["rule"] == "requires_level"][0]
        assert check["actual"] == "awarded in this decision"

    def test_levels_requiring_each_other_are_refused(self):
        data = small()
        for level in data["levels"]:
            level["rules"]["requires_level"] = "premium" if level["id"] == "basic" else "basic"
        with pytest.raises(ValueError, match="circle"):
            STYLE.validate_rules(Rubric.model_validate(data))

    def test_derivation_shows_the_figures_and_rules_used(self):
        outcome = judge(candidate(92, "jingpin"))
        d = outcome.derivation
        assert d["total"] == {"exact": "92", "published": "92.00"} and d["max_total"] == "100"
        assert d["self_total"] == {"exact": "90", "published": "90.00"} and d["mock_total"] is None
        assert d["subtotals"] == {"self_governance": {"exact": "92", "published": "92.00"}}
        assert d["rules"] == {"category_floors": [], "required_items": [], "require_survey": True,
                              "min_satisfaction_rate": "0.9", "exclusive_levels": [],
                              "min_total": "90", "min_self_total": "90", "requires_level": "meili"}
        assert d["survey"]["satisfaction_rate"] == {"exact": "19/20", "published": "95.00%"}
        assert d["survey"]["participation_rate"] == {"exact": "1/6", "published": "16.67%"}
        assert d["survey"]["respondents"] == 200
        assert d["publication"] == {"places": 2, "rounding": "half_up", "compare": "exact"}
        assert d["incomplete"] == [] and d["application_gate"] == {
            "min_self_total": "90", "application_total": {"exact": "90", "published": "90.00"}}
        assert [ch["rule"] for ch in d["checks"]] == [
            "assessment_complete", "no_veto", "min_total", "survey_recorded", "min_satisfaction_rate",
            "no_upheld_objection", "requires_level",
        ]


class TestApplicationGate:
    def test_self_assessed_totals_below_the_threshold_are_refused(self):
        rubric = meili_2017()
        assert STYLE.check_application(rubric, "meili", Decimal("79.5"), {}) == [
            "自评总分 79.5 未达到申报门槛 80 分 (self-assessed total 79.5 is below the application threshold 80)"
        ]
        assert STYLE.check_application(rubric, "meili", Decimal("80"), {}) == []
        refusal = STYLE.check_application(rubric, "jingpin", Decimal("89.5"), {})
        assert len(refusal) == 1 and "89.5" in refusal[0] and "门槛 90 分" in refusal[0]
        assert STYLE.check_application(rubric, "jingpin", Decimal("90"), {}) == []

    def test_a_level_without_an_application_threshold_accepts_any_total(self):
        rubric = Rubric.model_validate(small())
        assert STYLE.check_application(rubric, "premium", Decimal("0"), {}) == []
        assert STYLE.check_application(rubric, "basic", Decimal("3.5"), {})


class TestValidateRules:
    def test_shipped_rubrics_are_valid(self):
        STYLE.validate_rules(meili_2017())
        STYLE.validate_rules(Rubric.model_validate(small()))

    @pytest.mark.parametrize(
        ("level", "rules", "message"),
        [
            (0, {"min_total": 6}, "level 'basic': min_total 6 exceeds the rubric's 5.5 points"),
            (1, {"min_total": 3, "requires_level": "premium"},
             "level 'premium': requires_level 'premium' must be another level: ['basic']"),
            (1, {"min_total": 3, "requires_level": "gold"}, "level 'premium': requires_level 'gold' must be another level"),
            (0, {"min_total": 0}, "level 'basic': rules.min_total"),
            (0, {}, "level 'basic': rules.min_total: Field required"),
            (0, {"min_total": 4, "quota": 3}, "level 'basic': rules.quota: Extra inputs are not permitted"),
            (1, {"min_total": 3, "min_satisfaction_rate": 1.5}, "level 'premium': rules.min_satisfaction_rate"),
        ],
    )
    def test_rules_that_do_not_fit_are_refused(self, level, rules, message):
        data = small()
        data["levels"][level]["rules"] = rules
        with pytest.raises(ValueError) as info:
            STYLE.validate_rules(Rubric.model_validate(data))
        assert message in str(info.value)

    def test_rubric_wide_rules_are_defaults_that_levels_override(self):
        data = small()
        data["rules"] = {"min_total": 5}
        data["levels"][0]["rules"] = {}
        rubric = Rubric.model_validate(data)
        assert STYLE.rules(rubric, "basic").min_total == 5
        assert STYLE.rules(rubric, "premium").min_total == 3
        data["rules"] = {"min_total": 7}
        with pytest.raises(ValueError, match="level 'basic': min_total 7 exceeds"):
            STYLE.validate_rules(Rubric.model_validate(data))


def test_level_rules_merge_rubric_and_level_rules_and_name_the_bad_field():
    from pydantic import BaseModel, ConfigDict

    class Rules(BaseModel):
        model_config = ConfigDict(extra="forbid")
        min_total: int
        min_self_total: int | None = None
        require_survey: bool = True

    data = small()
    data["rules"] = {"require_survey": False}
    rubric = Rubric.model_validate(data)
    level = rubric.levels[0].id
    rules = rubric.level_rules(level, Rules)
    assert rules.require_survey is False and rules.min_total == int(rubric.levels[0].rules["min_total"])
    data["levels"][0]["rules"]["min_total"] = "many"
    with pytest.raises(ValueError, match=rf"level '{level}': rules.min_total"):
        Rubric.model_validate(data).level_rules(level, Rules)
