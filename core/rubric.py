"""Rubrics as versioned, validated data with a canonical content hash.

A rubric (评分标准 / 指标体系) is what a campaign is scored against: categories of
items with maximum points, optional veto items (一票否决), the levels (titles) it can
award and the parameters of the decision style that awards them. The core treats all
of it as data: the names of categories, items and levels come from plugins or from a
municipality's configuration, and the rubric names its decision style (one built into the
core, :mod:`core.styles`, or one a plugin provides).
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from core.exact import DEFAULT_PUBLICATION, Publication, exact

M = TypeVar("M", bound=BaseModel)

#: Points are exact decimals in memory and plain JSON numbers on the wire.
Points = Annotated[
    Decimal,
    Field(ge=0),
    PlainSerializer(lambda d: float(d) if d != d.to_integral() else int(d), return_type=float | int, when_used="json"),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RubricItem(_Strict):
    """One scored item (小项)."""

    id: str = Field(min_length=1, description="Stable item id, unique in the rubric")
    text: str = Field(min_length=1, description="Item text as published (Chinese)")
    max_points: Points = Field(gt=0, description="Maximum points (小项分值)")


class RubricCategory(_Strict):
    """A category (项目) grouping items; its maximum is the sum of its items."""

    id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    max_points: Points = Field(description="Declared category maximum (分值)")
    items: list[RubricItem] = Field(min_length=1)

    @model_validator(mode="after")
    def _declared_sum_matches(self) -> RubricCategory:
        total = sum((i.max_points for i in self.items), Decimal(0))
        if total != self.max_points:
            raise ValueError(
                f"category {self.id!r}: items add up to {total}, "
                f"but the declared maximum is {self.max_points}"
            )
        return self


class VetoItem(_Strict):
    """A condition that alone prevents a title (一票否决)."""

    id: str = Field(min_length=1)
    text: str = Field(min_length=1)


class Level(_Strict):
    """A title a campaign can award under this rubric (e.g. a basic and a premium tier).

    ``rules`` are the decision style's parameters for this level; the style that the
    rubric names validates them. A ``provisional`` level is a placeholder standard that
    the municipality is expected to replace; every place that shows it says so.
    """

    id: str = Field(min_length=1)
    label: str = Field(min_length=1)
    provisional: bool = False
    note: str = ""
    rules: dict[str, Any] = Field(default_factory=dict)


class TrimmedMean(_Strict):
    """Aggregation ``trimmed_mean`` (去掉最高分和最低分后取平均): with at least ``min_count``
    assessors' points for an item, drop the ``drop`` highest and ``drop`` lowest and take
    the mean of the rest; with fewer, the plain mean (docs/rules.md §2)."""

    kind: Literal["trimmed_mean"]
    drop: int = Field(ge=1, description="How many highest and how many lowest points are dropped")
    min_count: int = Field(ge=3, description="Trim only when at least this many assessors scored the item")

    @model_validator(mode="after")
    def _leaves_one(self) -> TrimmedMean:
        if self.min_count < 2 * self.drop + 1:
            raise ValueError(
                f"min_count {self.min_count} must be at least 2 × drop + 1 = {2 * self.drop + 1}, "
                "so that a point is left after dropping"
            )
        return self


#: Fields added after the first rubrics were published. Left unset, a field is absent from
#: the canonical JSON, so the content hash of every rubric written before it stays the same.
OPTIONAL_FIELDS = ("publication", "min_assessors", "partial_sheets")


class Rubric(_Strict):
    """A complete, versioned rubric."""

    id: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    version: str = Field(min_length=1)
    title: str = Field(min_length=1)
    source: str = ""
    step: Points = Field(default=Decimal("0.5"), gt=0, description="Scores are multiples of this")
    aggregation: str | TrimmedMean = Field(
        default="mean",
        description="How assessors' points for an item combine: mean, median, a trimmed_mean object, "
        "or the name of an aggregation a plugin provides",
    )
    style: str = Field(min_length=1, description="Decision style that awards the levels")
    categories: list[RubricCategory] = Field(min_length=1)
    veto_items: list[VetoItem] = Field(default_factory=list)
    levels: list[Level] = Field(min_length=1)
    rules: dict[str, Any] = Field(default_factory=dict, description="Style parameters for all levels")
    provisional: bool = False
    publication: Publication | None = Field(
        default=None, description="How figures are published and whether lines compare them (default: 2 places, half up, exact)"
    )
    min_assessors: int | None = Field(
        default=None, ge=1, description="Official assessors needed on every item (default 1)"
    )
    partial_sheets: bool | None = Field(
        default=None, description="Official and mock sheets may leave items out (default: every sheet covers every item)"
    )

    _item_index: dict[str, RubricItem] = PrivateAttr(default_factory=dict)
    _allowed: dict[str, frozenset[str]] = PrivateAttr(default_factory=dict)

    @field_validator("categories")
    @classmethod
    def _unique_ids(cls, categories: list[RubricCategory]) -> list[RubricCategory]:
        seen: set[str] = set()
        for cat in categories:
            for item in cat.items:
                if item.id in seen:
                    raise ValueError(f"item id {item.id!r} is used twice")
                seen.add(item.id)
        return categories

    @model_validator(mode="after")
    def _consistent(self) -> Rubric:
        for item in self.items():
            if item.max_points % self.step:
                raise ValueError(
                    f"item {item.id!r}: max_points {item.max_points} is not a multiple of step {self.step}"
                )
        level_ids = [lv.id for lv in self.levels]
        if len(set(level_ids)) != len(level_ids):
            raise ValueError(f"level ids must be unique, got {level_ids}")
        if self.aggregation == "trimmed_mean":
            raise ValueError(
                "aggregation 'trimmed_mean' needs its parameters: "
                "{kind: trimmed_mean, drop: K, min_count: M} (drop the K highest and K lowest when at least M assessors scored)"
            )
        veto_ids = [v.id for v in self.veto_items]
        if len(set(veto_ids)) != len(veto_ids):
            raise ValueError(f"veto item ids must be unique, got {veto_ids}")
        return self

    @model_serializer(mode="wrap")
    def _without_unset_options(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        for name in OPTIONAL_FIELDS:
            if data.get(name, 0) is None:
                del data[name]
        return data

    # -- derived --------------------------------------------------------------

    @property
    def published_as(self) -> Publication:
        """The publication rule in force (the declared one, or 2 places, half up, exact)."""
        return self.publication or DEFAULT_PUBLICATION

    @property
    def assessors_needed(self) -> int:
        """Official assessors needed on every item."""
        return self.min_assessors or 1

    @property
    def aggregation_label(self) -> str:
        """The aggregation as people read it: ``mean``, ``trimmed_mean(drop 1 when ≥ 5)``."""
        spec = self.aggregation
        return spec if isinstance(spec, str) else f"{spec.kind}(drop {spec.drop} when ≥ {spec.min_count})"

    @property
    def aggregation_name(self) -> str:
        """``mean``, ``median``, ``trimmed_mean`` or a plugin aggregation's name."""
        return self.aggregation if isinstance(self.aggregation, str) else self.aggregation.kind

    def items(self) -> list[RubricItem]:
        """Every item, in published order."""
        return list(self._items_by_id().values())

    def _items_by_id(self) -> dict[str, RubricItem]:
        # Rubrics are immutable, so the index is built once per instance. Read straight from
        # pydantic's private storage: attribute access to a private field goes through
        # BaseModel.__getattr__, which costs more than the lookup itself.
        index = self.__pydantic_private__["_item_index"]
        if not index:
            index.update((item.id, item) for cat in self.categories for item in cat.items)
        return index

    def allowed_points(self, item_id: str) -> frozenset[str]:
        """Every valid score of an item as canonical decimal strings ("0", "0.5", … "2.5")."""
        allowed = self.__pydantic_private__["_allowed"]
        cached = allowed.get(item_id)
        if cached is None:
            item = self.item(item_id)
            steps = int(item.max_points / self.step)
            cached = frozenset(canonical_points(self.step * n) for n in range(steps + 1))
            allowed[item_id] = cached
        return cached

    def item(self, item_id: str) -> RubricItem:
        """The item with ``item_id``; KeyError if the rubric has none."""
        return self._items_by_id()[item_id]

    def category_of(self, item_id: str) -> RubricCategory:
        for cat in self.categories:
            if any(i.id == item_id for i in cat.items):
                return cat
        raise KeyError(item_id)

    def level(self, level_id: str) -> Level:
        for lv in self.levels:
            if lv.id == level_id:
                return lv
        raise KeyError(level_id)

    def level_rules(self, level_id: str, model: type[M]) -> M:
        """The rules of one level as ``model`` (a decision style's pydantic model): the
        rubric-wide ``rules`` overridden by the level's own. Raises ``ValueError`` naming
        the level and the field when they do not fit."""
        merged = {**self.rules, **self.level(level_id).rules}
        try:
            return model.model_validate(merged)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise ValueError(f"level {level_id!r}: rules.{where}: {err['msg']} (got {err.get('input')!r})") from None

    @property
    def max_total(self) -> Decimal:
        return sum((c.max_points for c in self.categories), Decimal(0))

    @property
    def is_provisional(self) -> bool:
        return self.provisional or any(lv.provisional for lv in self.levels)

    def canonical_json(self) -> str:
        """The JSON text the content hash is taken over: sorted keys, no spaces, UTF-8."""
        return json.dumps(
            self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )

    @property
    def content_hash(self) -> str:
        """``sha256:<hex>`` of :meth:`canonical_json`; names this exact version forever."""
        digest = hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()
        return f"sha256:{digest}"

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"


def canonical_points(points: Decimal) -> str:
    """The one spelling of a number of points: no exponent, no trailing zeros."""
    if points == 0:
        return "0"
    return format(points.normalize(), "f")


def subtotals(rubric: Rubric, item_points: dict[str, Fraction]) -> tuple[dict[str, Fraction], Fraction]:
    """Exact per-category subtotals and total of a complete or partial set of item points
    (an item without points counts 0)."""
    zero = Fraction(0)
    per_category = {
        cat.id: sum((exact(item_points.get(i.id, zero)) for i in cat.items), zero) for cat in rubric.categories
    }
    return per_category, sum(per_category.values(), zero)


def sheet_for_total(rubric: Rubric, total: Decimal | float | str) -> dict[str, str]:
    """A complete score sheet adding up to ``total``: full marks, lowered item by item in
    rubric order. For demonstrations, tests and benchmarks that need plausible sheets."""
    excess = rubric.max_total - Decimal(str(total))
    if excess < 0 or excess % rubric.step:
        raise ValueError(f"total {total} must be between 0 and {rubric.max_total} in steps of {rubric.step}")
    points = {}
    for item in rubric.items():
        cut = min(excess, item.max_points)
        points[item.id] = canonical_points(item.max_points - cut)
        excess -= cut
    return points


def _item_order(item_id: str) -> tuple[int, int, str]:
    return (0, int(item_id), item_id) if item_id.isascii() and item_id.isdigit() else (1, 0, item_id)


def item_ids_text(item_ids: list[str]) -> str:
    """Item ids, runs of consecutive numbers shortened: ``1, 3-7, V1``."""
    parts: list[str] = []
    run: list[int] = []

    def flush() -> None:
        if run:
            parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
            run.clear()

    for item_id in sorted(item_ids, key=_item_order):
        if item_id.isascii() and item_id.isdigit() and str(int(item_id)) == item_id:
            if run and int(item_id) != run[-1] + 1:
                flush()
            run.append(int(item_id))
        else:
            flush()
            parts.append(item_id)
    flush()
    return ", ".join(parts)
