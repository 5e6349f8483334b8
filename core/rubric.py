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
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

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


class Rubric(_Strict):
    """A complete, versioned rubric."""

    id: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    version: str = Field(min_length=1)
    title: str = Field(min_length=1)
    source: str = ""
    step: Points = Field(default=Decimal("0.5"), gt=0, description="Scores are multiples of this")
    aggregation: str = Field(default="mean", description="How assessors' item scores combine")
    style: str = Field(min_length=1, description="Decision style that awards the levels")
    categories: list[RubricCategory] = Field(min_length=1)
    veto_items: list[VetoItem] = Field(default_factory=list)
    levels: list[Level] = Field(min_length=1)
    rules: dict[str, Any] = Field(default_factory=dict, description="Style parameters for all levels")
    provisional: bool = False

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
        veto_ids = [v.id for v in self.veto_items]
        if len(set(veto_ids)) != len(veto_ids):
            raise ValueError(f"veto item ids must be unique, got {veto_ids}")
        return self

    # -- derived --------------------------------------------------------------

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


def subtotals(rubric: Rubric, item_points: dict[str, Decimal]) -> tuple[dict[str, Decimal], Decimal]:
    """Per-category subtotals and total of a complete or partial set of item points."""
    per_category: dict[str, Decimal] = {}
    for cat in rubric.categories:
        per_category[cat.id] = sum(
            (item_points.get(i.id, Decimal(0)) for i in cat.items), Decimal(0)
        )
    return per_category, sum(per_category.values(), Decimal(0))


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
