"""Tenants, the community register and the rubric versions a tenant may use."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from core.actors import Actor
from core.domain import Community, RubricRecord, Tenant, ids
from core.errors import AlreadyExists, InvalidInput, NotFound, PluginError, RuleViolation, invalid_from
from core.rubric import Rubric
from core.services.base import LedgerBase

COMMUNITY_FIELDS = {"name": str, "district": str, "street": str, "households": int, "population": int}


class RegistryCommands(LedgerBase):
    # -- tenants ------------------------------------------------------------------

    def register_tenant(self, actor: Actor, code: str, name: str) -> str:
        """Register a municipality. The actor must be that tenant's city owner."""
        self.authorize(actor, "register_tenant", code)
        code = self.check_text("code", code, max_length=64)
        tenant_id = ids.tenant_id(code)
        if self.exists(tenant_id):
            raise AlreadyExists(f"tenant {code!r} is already registered")
        tenant = Tenant(meta=self.meta(actor, code), code=code, name=self.check_text("name", name))
        self.save_all(tenant)
        return str(tenant.id)

    def tenant(self, actor: Actor, code: str) -> Tenant:
        try:
            return self.load(Tenant, ids.tenant_id(str(code)), actor, "tenant")
        except NotFound:
            raise NotFound("tenant", repr(code)) from None

    def ensure_tenant(self, actor: Actor, code: str, name: str) -> str:
        """Register the tenant unless it exists (for idempotent scripts such as the demo)."""
        try:
            return str(self.tenant(actor, code).id)
        except NotFound:
            return self.register_tenant(actor, code, name)

    # -- communities -------------------------------------------------------------

    def register_community(
        self,
        actor: Actor,
        code: str,
        name: str,
        district: str,
        street: str,
        households: int,
        population: int,
        on: str | None = None,
    ) -> str:
        """Add a community (社区) to the tenant's register."""
        self.authorize(actor, "register_community", actor.tenant)
        tenant = self.tenant(actor, actor.tenant)
        code = self.check_text("code", code, max_length=64)
        if self.exists(ids.community_id(tenant.code, code)):
            raise AlreadyExists(f"community {code!r} is already registered in tenant {tenant.code!r}")
        community = Community(
            meta=self.meta(actor, tenant.code, on=on),
            tenant=tenant.code,
            code=code,
            name=self.check_text("name", name, max_length=200),
            district=self.check_text("district", district, max_length=200),
            street=self.check_text("street", street, max_length=200),
            households=self.check_count("households", households),
            population=self.check_count("population", population),
        )
        tenant.list_community(meta=self.meta(actor, tenant.code, on=on), community_id=str(community.id))
        self.save_all(community, tenant)
        return str(community.id)

    def correct_community(self, actor: Actor, community_id: str, changes: dict[str, Any], reason: str) -> None:
        """Correct register details; the old values stay in the history."""
        community = self.load(Community, community_id, actor, "community")
        self.authorize(actor, "correct_community", community.tenant)
        if not isinstance(changes, dict) or not changes:
            raise InvalidInput("changes", changes, f"an object with some of {sorted(COMMUNITY_FIELDS)}")
        checked: dict[str, Any] = {}
        for key, value in changes.items():
            if key not in COMMUNITY_FIELDS:
                raise InvalidInput(f"changes.{key}", value, f"one of the fields {sorted(COMMUNITY_FIELDS)}")
            checked[key] = (
                self.check_count(f"changes.{key}", value)
                if COMMUNITY_FIELDS[key] is int
                else self.check_text(f"changes.{key}", value, max_length=200)
            )
        community.correct(
            meta=self.meta(actor, community.tenant, reason=self.check_text("reason", reason)), changes=checked
        )
        self.save_all(community)

    def community(self, actor: Actor, community_id: str) -> Community:
        return self.load(Community, community_id, actor, "community")

    def community_by_code(self, actor: Actor, code: str) -> Community:
        return self.load(Community, ids.community_id(actor.tenant, code), actor, "community")

    # -- rubric versions ---------------------------------------------------------------

    def resolve_rubric(self, actor: Actor, rubric_id: str, version: str | None = None) -> tuple[Rubric, str]:
        """A rubric the tenant may pin, and who provided it: the tenant's own configured
        versions first, then the plugins'."""
        tenant = self.tenant(actor, actor.tenant)
        own = {ref: h for ref, h in tenant.rubrics.items() if ref.split("@", 1)[0] == rubric_id}
        if version is not None and f"{rubric_id}@{version}" in own:
            rubric = self.rubric_by_hash(own[f"{rubric_id}@{version}"])
            return rubric, f"tenant {tenant.code}"
        provided = self.plugins.rubric(rubric_id, version)
        return provided.rubric, f"plugin {provided.plugin}"

    def record_rubric(
        self, actor: Actor, rubric: Rubric, provided_by: str, tenant: str | None = None, derived_from: str | None = None
    ) -> RubricRecord | None:
        """A new RubricRecord for ``rubric`` unless the ledger already holds that exact version."""
        record_id = ids.rubric_record_id(rubric.content_hash)
        if self.exists(record_id):
            return None
        return RubricRecord(
            meta=self.meta(actor, actor.tenant, rubric=rubric.content_hash),
            content_hash=rubric.content_hash,
            rubric_id=rubric.id,
            rubric_version=rubric.version,
            definition=rubric.canonical_json(),
            provided_by=provided_by,
            tenant=tenant,
            derived_from=derived_from,
        )

    def configure_rubric(
        self, actor: Actor, base: str, version: str, changes: dict[str, Any], reason: str
    ) -> str:
        """Derive a tenant-only rubric version from ``base`` (``id`` or ``id@version``).

        ``changes`` may replace ``title``, ``veto_items`` and ``aggregation`` and adjust
        ``levels`` by id: ``{"levels": {"premium": {"rules": {...}, "provisional": false}}}``.
        This is how a municipality replaces a provisional standard or adds veto items.
        Returns the new version's content hash.
        """
        self.authorize(actor, "configure_rubric", actor.tenant)
        tenant = self.tenant(actor, actor.tenant)
        base_id, _, base_version = self.check_text("base", base, max_length=200).partition("@")
        source, _ = self.resolve_rubric(actor, base_id, base_version or None)
        version = self.check_text("version", version, max_length=64)
        if version == source.version or f"{source.id}@{version}" in tenant.rubrics:
            raise AlreadyExists(f"rubric {source.id}@{version} already exists; choose a new version")
        if not isinstance(changes, dict):
            raise InvalidInput("changes", changes, "an object")
        definition = json.loads(source.canonical_json())
        for key, value in changes.items():
            if key in ("title", "veto_items", "aggregation"):
                definition[key] = value
            elif key == "levels":
                if not isinstance(value, dict):
                    raise InvalidInput("changes.levels", value, "an object keyed by level id")
                by_id = {lv["id"]: lv for lv in definition["levels"]}
                for level_id, level_changes in value.items():
                    if level_id not in by_id:
                        raise InvalidInput("changes.levels", level_id, f"one of the levels {sorted(by_id)}")
                    if not isinstance(level_changes, dict):
                        raise InvalidInput(f"changes.levels.{level_id}", level_changes, "an object")
                    if level_changes.get("provisional") is False and "note" not in level_changes:
                        by_id[level_id]["note"] = ""  # a provisional level's caveat no longer applies
                    for field, field_value in level_changes.items():
                        if field == "rules" and isinstance(field_value, dict):
                            by_id[level_id]["rules"] = {**by_id[level_id]["rules"], **field_value}
                        elif field in ("label", "provisional", "note", "rules"):
                            by_id[level_id][field] = field_value
                        else:
                            raise InvalidInput(
                                f"changes.levels.{level_id}.{field}", field_value, "one of label, provisional, note, rules"
                            )
            else:
                raise InvalidInput(f"changes.{key}", value, "one of title, veto_items, aggregation, levels")
        definition["version"] = version
        try:
            derived = Rubric.model_validate(definition)
        except ValidationError as exc:
            raise invalid_from(exc, "changes") from None
        try:
            self.plugins.style(derived.style).validate_rules(derived)
            self.plugins.aggregation(derived.aggregation)
        except (ValueError, PluginError) as exc:
            raise RuleViolation(f"derived rubric {derived.ref}: {exc}") from exc
        tenant.configure_rubric(
            meta=self.meta(actor, tenant.code, reason=self.check_text("reason", reason), rubric=derived.content_hash),
            ref=derived.ref,
            content_hash=derived.content_hash,
        )
        record = self.record_rubric(actor, derived, f"tenant {tenant.code}", tenant.code, source.content_hash)
        self.save_all(*(a for a in (tenant, record) if a is not None))
        return derived.content_hash
