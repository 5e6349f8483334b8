"""Campaigns: creation with a pinned rubric, schedule, status and the frozen candidate list."""

from __future__ import annotations

from pydantic import ValidationError

from core.actors import Actor
from core.domain import Campaign, ids
from core.domain.campaign import CANCELLED, CLOSED, DRAFT, OPEN
from core.errors import AlreadyExists, InvalidInput, RuleViolation, invalid_from
from core.plugins.types import PHASE_KINDS, PhaseSpec
from core.services.registry import RegistryCommands


class CampaignCommands(RegistryCommands):
    def create_campaign(
        self,
        actor: Actor,
        code: str,
        title: str,
        year: int,
        rubric_id: str,
        rubric_version: str | None = None,
        levels: list[str] | None = None,
        quota: int | None = None,
        schedule: list[dict[str, str]] | None = None,
        on: str | None = None,
    ) -> str:
        """Create a campaign pinned to one rubric version (id, version, content hash).

        ``levels`` defaults to every level of the rubric; ``schedule`` to the plugin's
        default for ``year``.
        """
        self.authorize(actor, "create_campaign", actor.tenant)
        tenant = self.tenant(actor, actor.tenant)
        code = self.check_text("code", code, max_length=64)
        if self.exists(ids.campaign_id(tenant.code, code)):
            raise AlreadyExists(f"campaign {code!r} already exists in tenant {tenant.code!r}")
        year = self.check_count("year", year, minimum=2000)
        if year > 2100:
            raise InvalidInput("year", year, "a year from 2000 to 2100")
        if quota is not None:
            self.check_count("quota", quota, minimum=1)
        rubric, provided_by = self.resolve_rubric(actor, rubric_id, rubric_version)
        rubric_levels = [lv.id for lv in rubric.levels]
        chosen = list(levels) if levels else rubric_levels
        for level in chosen:
            if level not in rubric_levels:
                raise InvalidInput("levels", level, f"levels of rubric {rubric.ref}: {', '.join(rubric_levels)}")
        if schedule is None:
            phases = self.plugins.default_schedule(rubric, year)
        else:
            phases = self._check_schedule(schedule)
        meta = self.meta(actor, tenant.code, on=on, rubric=rubric.content_hash)
        campaign = Campaign(
            meta=meta,
            tenant=tenant.code,
            code=code,
            title=self.check_text("title", title, max_length=200),
            year=year,
            levels=chosen,
            quota=quota,
            rubric={"id": rubric.id, "version": rubric.version, "hash": rubric.content_hash},
            schedule=[p.model_dump() for p in phases],
        )
        tenant.list_campaign(meta=meta, campaign_id=str(campaign.id))
        record = self.record_rubric(actor, rubric, provided_by)
        self.save_all(*(a for a in (campaign, tenant, record) if a is not None))
        return str(campaign.id)

    @staticmethod
    def _check_schedule(schedule: object) -> list[PhaseSpec]:
        if not isinstance(schedule, list) or not schedule:
            raise InvalidInput("schedule", schedule, "a non-empty list of phases {id, label, kind, start, end}")
        phases = []
        for n, raw in enumerate(schedule):
            try:
                phase = PhaseSpec.model_validate(raw)
            except ValidationError as exc:
                raise invalid_from(exc, f"schedule[{n}]") from None
            for edge in ("start", "end"):
                RegistryCommands.check_date(f"schedule[{n}].{edge}", getattr(phase, edge))
            if phase.kind not in PHASE_KINDS:
                raise InvalidInput(f"schedule[{n}].kind", phase.kind, ", ".join(PHASE_KINDS))
            if phase.end < phase.start:
                raise InvalidInput(f"schedule[{n}].end", phase.end, f"a date on or after its start {phase.start}")
            phases.append(phase)
        if len({p.id for p in phases}) != len(phases):
            raise InvalidInput("schedule", [p.id for p in phases], "unique phase ids")
        return phases

    def campaign(self, actor: Actor, campaign_id: str) -> Campaign:
        return self.load(Campaign, campaign_id, actor, "campaign")

    def campaign_by_code(self, actor: Actor, code: str) -> Campaign:
        return self.load(Campaign, ids.campaign_id(actor.tenant, code), actor, "campaign")

    def _campaign_for(self, actor: Actor, campaign_id: str, action: str, expected_version: int | None = None) -> Campaign:
        campaign = self.campaign(actor, campaign_id)
        self.authorize(actor, action, campaign.tenant)
        self.check_version(campaign, expected_version, "campaign")
        return campaign

    def campaign_meta(self, actor: Actor, campaign: Campaign, *, on: str | None = None, reason: str | None = None) -> dict:
        return self.meta(actor, campaign.tenant, on=on, reason=reason, campaign=str(campaign.id), rubric=campaign.rubric["hash"])

    def reschedule_phase(
        self, actor: Actor, campaign_id: str, phase_id: str, start: str, end: str, reason: str,
        on: str | None = None, expected_version: int | None = None,
    ) -> None:
        """Move a phase (city owner, with a reason). The application phase cannot be moved
        once the candidate list is frozen."""
        campaign = self._campaign_for(actor, campaign_id, "reschedule_phase", expected_version)
        if phase_id not in [p["id"] for p in campaign.schedule]:
            raise InvalidInput("phase_id", phase_id, ", ".join(p["id"] for p in campaign.schedule))
        start, end = self.check_date("start", start), self.check_date("end", end)
        if end < start:
            raise InvalidInput("end", end, f"a date on or after start {start}")
        if campaign.status in (CLOSED, CANCELLED):
            raise RuleViolation(f"campaign {campaign.code} is {campaign.status}; its schedule can no longer change")
        meta = self.campaign_meta(actor, campaign, on=on, reason=self.check_text("reason", reason))
        phase = next(p for p in campaign.schedule if p["id"] == phase_id)
        if phase.get("kind") == "application" and campaign.is_frozen_on(meta["effective"]):
            raise RuleViolation(
                f"the candidate list of campaign {campaign.code} is frozen; moving the application phase "
                "cannot reopen it (the city owner amends the list with a justification instead)"
            )
        campaign.reschedule(meta=meta, phase_id=phase_id, start=start, end=end)
        self.save_all(campaign)

    def open_campaign(self, actor: Actor, campaign_id: str, on: str | None = None) -> None:
        campaign = self._campaign_for(actor, campaign_id, "open_campaign")
        if campaign.status != DRAFT:
            raise RuleViolation(f"campaign {campaign.code} is {campaign.status}; only a draft campaign can be opened")
        campaign.open(meta=self.campaign_meta(actor, campaign, on=on))
        self.save_all(campaign)

    def close_campaign(self, actor: Actor, campaign_id: str, on: str | None = None) -> None:
        campaign = self._campaign_for(actor, campaign_id, "close_campaign")
        if campaign.status != OPEN:
            raise RuleViolation(f"campaign {campaign.code} is {campaign.status}; only an open campaign can be closed")
        if not campaign.decided:
            raise RuleViolation(f"campaign {campaign.code} has no decisions yet; decide before closing")
        campaign.close(meta=self.campaign_meta(actor, campaign, on=on))
        self.save_all(campaign)

    def cancel_campaign(self, actor: Actor, campaign_id: str, reason: str, on: str | None = None) -> None:
        campaign = self._campaign_for(actor, campaign_id, "cancel_campaign")
        if campaign.status in (CLOSED, CANCELLED) or campaign.decided:
            raise RuleViolation(f"campaign {campaign.code} is {campaign.status} and decided={campaign.decided}; it cannot be cancelled")
        campaign.cancel(meta=self.campaign_meta(actor, campaign, on=on, reason=self.check_text("reason", reason)))
        self.save_all(campaign)

    def freeze_candidates(self, actor: Actor, campaign_id: str, on: str | None = None) -> None:
        """Freeze the candidate list (一旦确定原则上不得更改); later changes need an amendment."""
        campaign = self._campaign_for(actor, campaign_id, "freeze_candidates")
        if campaign.frozen:
            raise RuleViolation(f"the candidate list of campaign {campaign.code} is already frozen")
        campaign.freeze(meta=self.campaign_meta(actor, campaign, on=on))
        self.save_all(campaign)

    def require_open(self, campaign: Campaign) -> None:
        if campaign.status != OPEN:
            raise RuleViolation(f"campaign {campaign.code} is {campaign.status}; this needs an open campaign")
