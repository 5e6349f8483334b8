"""Property tests: the recorded derivation equals an independent exact recomputation
(docs/rules.md §1-§5) for random sheets, assessor counts, aggregations and rules."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from core.exact import Publication, canonical, published
from core.plugins.types import DecisionContext
from core.rubric import Rubric
from core.services import CivicLedger
from core.styles import ThresholdStyle

ITEMS = {"1": 2, "2": 3, "3": 1.5, "4": 2.5, "5": 1}  # item -> maximum, step 0.5
CATEGORIES = {"a": ["1", "2"], "b": ["3", "4", "5"]}


def rubric(aggregation, line: Fraction, share: Fraction | None, publication: Publication) -> Rubric:
    rules = {"min_total": str(Decimal(line.numerator) / Decimal(line.denominator)), "require_survey": False}
    if share is not None:
        rules["category_floors"] = [{"category": "b", "min_share": str(Decimal(share.numerator) / Decimal(share.denominator))}]
    return Rubric.model_validate({
        "id": "prop", "version": "1", "title": "性质检验", "style": "threshold", "aggregation": aggregation,
        "publication": publication.model_dump(),
        "categories": [
            {"id": cat, "title": cat, "max_points": sum(ITEMS[i] for i in items),
             "items": [{"id": i, "text": f"第{i}项", "max_points": ITEMS[i]} for i in items]}
            for cat, items in CATEGORIES.items()
        ],
        "levels": [{"id": "pass", "label": "达标", "rules": rules}],
    })


def by_hand(aggregation, points: list[Fraction]) -> Fraction:
    """The aggregations as docs/rules.md §2 defines them, written out independently."""
    ordered = sorted(points)
    n = len(ordered)
    if aggregation == "median":
        return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
    if isinstance(aggregation, dict) and n >= aggregation["min_count"]:
        ordered = ordered[aggregation["drop"]: n - aggregation["drop"]]
    return Fraction(sum(ordered), len(ordered))


def decimal_published(value: Fraction, places: int, rounding: str) -> str:
    with localcontext() as ctx:
        ctx.prec = 50
        exact = Decimal(value.numerator) / Decimal(value.denominator)
        mode = {"half_up": ROUND_HALF_UP, "half_even": ROUND_HALF_EVEN}[rounding]
        return f"{exact.quantize(Decimal(1).scaleb(-places), rounding=mode):.{places}f}"


halves = st.integers(min_value=0, max_value=6).map(lambda n: Fraction(n, 2))
aggregations = st.one_of(
    st.sampled_from(["mean", "median"]),
    st.integers(min_value=1, max_value=2).flatmap(
        lambda drop: st.integers(min_value=2 * drop + 1, max_value=6).map(
            lambda m: {"kind": "trimmed_mean", "drop": drop, "min_count": m}
        )
    ),
)


@st.composite
def sheets(draw):
    n = draw(st.integers(min_value=1, max_value=6))
    return [
        {item: min(draw(halves), Fraction(top).limit_denominator(2)) for item, top in ITEMS.items()}
        for _ in range(n)
    ]


LEDGER = CivicLedger("memory://")


@settings(max_examples=300, deadline=None)
@given(
    assessed=sheets(),
    aggregation=aggregations,
    line=st.integers(min_value=1, max_value=40).map(lambda n: Fraction(n, 4)),
    share=st.one_of(st.none(), st.integers(min_value=1, max_value=10).map(lambda n: Fraction(n, 10))),
    places=st.integers(min_value=0, max_value=3),
    rounding=st.sampled_from(["half_up", "half_even"]),
    compare=st.sampled_from(["exact", "published"]),
)
def test_a_threshold_decision_is_the_rule_applied_exactly(assessed, aggregation, line, share, places, rounding, compare):
    publication = Publication(places=places, rounding=rounding, compare=compare)
    r = rubric(aggregation, line, share, publication)
    scores = {f"a{n}": {item: canonical(points) if points.denominator == 1 else str(float(points))
                        for item, points in sheet.items()} for n, sheet in enumerate(assessed)}
    candidacy = SimpleNamespace(
        id="cand", level="pass", scores={"official": scores, "self": {}, "mock": {}},
        application_scores=scores["a0"], survey=None, vetoes={}, facts={},
        objection_counts=lambda: {"open": 0, "upheld": 0, "dismissed": 0},
    )
    community = SimpleNamespace(id="com", name="某社区", households=100, held_levels=lambda: [])
    evidence = LEDGER.evidence(r, candidacy, community)
    (outcome,) = ThresholdStyle().decide(DecisionContext(rubric=r, levels=["pass"]), [evidence])

    items = {item: by_hand(aggregation, [sheet[item] for sheet in assessed]) for item in ITEMS}
    total = sum(items.values())
    b = sum(items[i] for i in CATEGORIES["b"])

    def reaches(value: Fraction, wanted: Fraction) -> bool:
        if compare == "published":
            value = Fraction(Decimal(decimal_published(value, places, rounding)))
        return value >= wanted

    expected = reaches(total, line) and (share is None or reaches(b, share * sum(ITEMS[i] for i in CATEGORIES["b"])))
    assert outcome.named == expected
    assert outcome.derivation["total"] == {"exact": canonical(total), "published": decimal_published(total, places, rounding)}
    assert published(total, publication) == decimal_published(total, places, rounding)
    assert outcome.derivation["subtotals"]["b"]["exact"] == canonical(b)
    check = next(c for c in outcome.derivation["checks"] if c["rule"] == "min_total")
    assert check["passed"] == reaches(total, line)
    if not check["passed"]:
        assert decimal_published(total, places, rounding) in check["reason"]
