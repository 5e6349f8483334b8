"""Selections (评选) — person awards, department rankings — and campaign progress records
at a cadence (monthly check-ins, quarterly pushes, a year-end summary).

A selection ranks its nominees by their figure: the mean of the assessors' scores (method
``score``) or the recorded vote count (method ``votes``). Ties are broken by nomination
order (the earlier nomination ranks first); the full ranking and that rule are recorded
once, in the ``Selected`` event, and never recomputed on read.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from core.actors import Actor
from core.exact import canonical, exact, mean, published
from core.domain import Campaign, Community, Selection, ids
from core.domain.campaign import CANCELLED
from core.domain.selection import METHODS, SUBJECT_KINDS, TIE_BREAK
from core.errors import AlreadyExists, InvalidInput, RuleViolation
from core.rubric import canonical_points
from core.services.queries import QueryMixin

CADENCES = {
    "monthly": (re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$"), "YYYY-MM, e.g. 2019-03"),
    "quarterly": (re.compile(r"^(\d{4})-Q([1-4])$"), "YYYY-Qn with n in 1..4, e.g. 2019-Q1"),
    "yearly": (re.compile(r"^(\d{4})$"), "YYYY, e.g. 2019"),
}


def _decimal(field: str, value: Any, allowed: str) -> Decimal:
    if isinstance(value, bool):
        raise InvalidInput(field, value, allowed)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise InvalidInput(field, value, allowed) from None
    # bounded magnitude and precision keep every later division, remainder and rounding
    # exact within the decimal context, and stored figures short
    if not number.is_finite() or (number != 0 and not -6 <= number.adjusted() <= 12):
        raise InvalidInput(field, value, f"{allowed}, between 1e-6 and 1e12 in size")
    return number


def _canonical(number: Decimal) -> str:
    return canonical_points(number)


def period_start(cadence: str, period: str) -> str:
    """The first day of a checked period, as an ISO date."""
    if cadence == "monthly":
        return f"{period}-01"
    if cadence == "quarterly":
        year, quarter = period.split("-Q")
        return f"{year}-{(int(quarter) - 1) * 3 + 1:02d}-01"
    return f"{period}-01-01"


class SelectionCommands(QueryMixin):
    # -- selections ------------------------------------------------------------------

    def open_selection(
        self,
        actor: Actor,
        code: str,
        title: str,
        year: int,
        subject: str,
        method: str,
        places: int | None = None,
        max_score: Any = 100,
        step: Any = 1,
        on: str | None = None,
    ) -> str:
        """Open a selection in the actor's tenant (city owner).

        ``subject`` is ``person`` or ``department``; ``places`` the number to select (None:
        rank everyone); ``method`` ``score`` (assessors score 0..``max_score`` in steps of
        ``step``) or ``votes`` (vote counts recorded; ``max_score`` and ``step`` unused).
        """
        self.authorize(actor, "open_selection", actor.tenant)
        tenant = self.tenant(actor, actor.tenant)
        code = self.check_text("code", code, max_length=64)
        if self.exists(ids.selection_id(tenant.code, code)):
            raise AlreadyExists(f"selection {code!r} already exists in tenant {tenant.code!r}")
        title = self.check_text("title", title, max_length=200)
        year = self.check_count("year", year, minimum=2000)
        if subject not in SUBJECT_KINDS:
            raise InvalidInput("subject", subject, ", ".join(SUBJECT_KINDS))
        if method not in METHODS:
            raise InvalidInput("method", method, ", ".join(METHODS))
        if places is not None:
            self.check_count("places", places, minimum=1)
        top = unit = None
        if method == "score":
            maximum = _decimal("max_score", max_score, "a number > 0")
            if maximum <= 0:
                raise InvalidInput("max_score", max_score, "a number > 0")
            increment = _decimal("step", step, f"a number > 0 that divides max_score {max_score}")
            if increment <= 0 or maximum % increment:
                raise InvalidInput("step", step, f"a number > 0 that divides max_score {max_score}")
            top, unit = _canonical(maximum), _canonical(increment)
        meta = self.meta(actor, tenant.code, on=on)
        selection = Selection(
            meta=meta, tenant=tenant.code, code=code, title=title, year=year, subject=subject,
            places=places, method=method, max_score=top, step=unit,
        )
        self.save_all(selection)
        return str(selection.id)

    def selection(self, actor: Actor, selection_id: str) -> Selection:
        return self.load(Selection, selection_id, actor, "selection")

    def selection_by_code(self, actor: Actor, code: str) -> Selection:
        return self.load(Selection, ids.selection_id(actor.tenant, code), actor, "selection")

    def _selection_for(self, actor: Actor, selection_id: str, action: str) -> Selection:
        selection = self.selection(actor, selection_id)
        self.authorize(actor, action, selection.tenant)
        if selection.selected:
            raise RuleViolation(f"selection {selection.code} has already been made; it can no longer change")
        return selection

    @staticmethod
    def _nominee(selection: Selection, nominee_id: Any) -> str:
        if not isinstance(nominee_id, str) or nominee_id not in selection.nominees:
            raise InvalidInput("nominee_id", nominee_id, ", ".join(selection.nominees) or "(none nominated)")
        return nominee_id

    def nominate(
        self,
        actor: Actor,
        selection_id: str,
        nominee_id: str,
        name: str,
        organisation: str,
        reason: str,
        community_id: str | None = None,
        on: str | None = None,
    ) -> None:
        """Nominate a person or department (district or street officer); each nominee once."""
        selection = self._selection_for(actor, selection_id, "nominate")
        nominee_id = self.check_text("nominee_id", nominee_id, max_length=64)
        if nominee_id in selection.nominees:
            raise AlreadyExists(f"{nominee_id!r} is already nominated in selection {selection.code}")
        name = self.check_text("name", name, max_length=200)
        organisation = self.check_text("organisation", organisation, max_length=200)
        reason = self.check_text("reason", reason)
        if community_id is not None:
            community_id = str(self.load(Community, community_id, actor, "community").id)
        selection.nominate(
            meta=self.meta(actor, selection.tenant, on=on), nominee_id=nominee_id, name=name,
            organisation=organisation, community_id=community_id, reason=reason,
        )
        self.save_all(selection)

    def record_score(self, actor: Actor, selection_id: str, nominee_id: str, points: Any, on: str | None = None) -> None:
        """An assessor's score for one nominee: 0..max_score on the step, once per assessor."""
        selection = self._selection_for(actor, selection_id, "record_score")
        if selection.method != "score":
            raise RuleViolation(f"selection {selection.code} is decided by {selection.method}, not by scores")
        nominee_id = self._nominee(selection, nominee_id)
        if actor.id in selection.scores.get(nominee_id, {}):
            raise AlreadyExists(f"{actor.id} has already scored {nominee_id!r} in selection {selection.code}")
        assert selection.max_score is not None and selection.step is not None
        allowed = f"0 to {selection.max_score} in steps of {selection.step}"
        value = _decimal("points", points, allowed)
        if value < 0 or value > Decimal(selection.max_score) or value % Decimal(selection.step):
            raise InvalidInput("points", points, allowed)
        selection.record_score(
            meta=self.meta(actor, selection.tenant, on=on), nominee_id=nominee_id, assessor=actor.id,
            points=_canonical(value),
        )
        self.save_all(selection)

    def record_votes(self, actor: Actor, selection_id: str, nominee_id: str, votes: int, on: str | None = None) -> None:
        """The vote count of one nominee (city owner), recorded once."""
        selection = self._selection_for(actor, selection_id, "record_votes")
        if selection.method != "votes":
            raise RuleViolation(f"selection {selection.code} is decided by {selection.method}, not by votes")
        nominee_id = self._nominee(selection, nominee_id)
        if nominee_id in selection.votes:
            raise AlreadyExists(f"the votes of {nominee_id!r} are already recorded in selection {selection.code}")
        votes = self.check_count("votes", votes)
        selection.record_votes(meta=self.meta(actor, selection.tenant, on=on), nominee_id=nominee_id, votes=votes)
        self.save_all(selection)

    def figure(self, selection: Selection, nominee_id: str) -> Fraction:
        """Exact mean score or vote count of one nominee (docs/rules.md §2)."""
        if selection.method == "score":
            return mean([exact(p) for p in selection.scores[nominee_id].values()])
        return Fraction(selection.votes[nominee_id])

    def shown_figure(self, selection: Selection, nominee_id: str) -> dict[str, str]:
        """A nominee's figure as every interface shows it: ``figure`` published (a mean score
        to 2 places, half up; a vote count as it is) and ``exact`` (the canonical fraction)."""
        value = self.figure(selection, nominee_id)
        return {"figure": published(value) if selection.method == "score" else str(value), "exact": canonical(value)}

    def select(self, actor: Actor, selection_id: str, on: str | None = None) -> list[dict[str, Any]]:
        """Make the selection once (city owner) and record the full ranking.

        Every nominee needs a figure. Ranking: exact figure descending, then nomination order
        ascending; each row records the exact figure and the figure published to 2 places, half up. The first ``places`` are selected (everyone when places is None).
        """
        selection = self._selection_for(actor, selection_id, "select")
        if not selection.nominees:
            raise RuleViolation(f"selection {selection.code} has no nominees")
        missing = [n for n in selection.nominees if not selection.has_figure(n)]
        if missing:
            what = "score" if selection.method == "score" else "vote count"
            raise RuleViolation(f"selection {selection.code}: no {what} recorded for {', '.join(missing)}")
        figures = {n: self.figure(selection, n) for n in selection.nominees}
        order = sorted(selection.nominees, key=lambda n: (-figures[n], selection.nominees[n]["order"]))
        counts: dict[Fraction, int] = {}
        for n in order:
            counts[figures[n]] = counts.get(figures[n], 0) + 1
        ranking = []
        for rank, n in enumerate(order, start=1):
            row = {
                "rank": rank,
                "nominee_id": n,
                "name": selection.nominees[n]["name"],
                **self.shown_figure(selection, n),
                "selected": selection.places is None or rank <= selection.places,
                "tied": counts[figures[n]] > 1,
            }
            if selection.method == "score":
                row["assessors"] = len(selection.scores[n])
            ranking.append(row)
        selection.select(meta=self.meta(actor, selection.tenant, on=on), ranking=ranking, tie_break=TIE_BREAK)
        self.save_all(selection)
        return ranking

    # -- progress records on a campaign ---------------------------------------------

    def record_progress(
        self,
        actor: Actor,
        campaign_id: str,
        cadence: str,
        period: str,
        subject: str,
        summary: str,
        figures: dict[str, Any] | None = None,
        on: str | None = None,
    ) -> None:
        """A progress record at a cadence (district officer or city owner).

        ``period`` is ``YYYY-MM`` (monthly), ``YYYY-Qn`` (quarterly) or ``YYYY`` (yearly) and
        must have begun by the effective date; ``figures`` maps names to numbers, stored as
        decimal strings. The same (cadence, period, subject) is recorded once.
        """
        campaign = self._campaign_for(actor, campaign_id, "record_progress")
        if campaign.status == CANCELLED:
            raise RuleViolation(f"campaign {campaign.code} is cancelled; no progress can be recorded")
        if cadence not in CADENCES:
            raise InvalidInput("cadence", cadence, ", ".join(CADENCES))
        pattern, allowed = CADENCES[cadence]
        if not isinstance(period, str) or not pattern.match(period):
            raise InvalidInput("period", period, allowed)
        subject = self.check_text("subject", subject, max_length=200)
        summary = self.check_text("summary", summary)
        if figures is None:
            figures = {}
        if not isinstance(figures, dict):
            raise InvalidInput("figures", figures, "an object mapping names to numbers")
        checked = {}
        for key, value in figures.items():
            if not isinstance(key, str) or not key.strip():
                raise InvalidInput("figures", key, "non-empty names")
            checked[key] = _canonical(_decimal(f"figures[{key}]", value, "a finite number"))
        if campaign.has_progress(cadence, period, subject):
            raise AlreadyExists(
                f"campaign {campaign.code} already has a {cadence} progress record for {period} ({subject})"
            )
        meta = self.campaign_meta(actor, campaign, on=on)
        if period_start(cadence, period) > meta["effective"]:
            raise InvalidInput("period", period, f"a period begun by the effective date {meta['effective']}")
        campaign.record_progress(
            meta=meta, cadence=cadence, period=period, subject=subject, summary=summary, figures=checked
        )
        self.save_all(campaign)

    def progress(self, actor: Actor, campaign_id: str) -> list[dict[str, Any]]:
        """A campaign's progress records in recorded order."""
        campaign: Campaign = self.campaign(actor, campaign_id)
        return [dict(p, figures=dict(p["figures"])) for p in campaign.progress]
