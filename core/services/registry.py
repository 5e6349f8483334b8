"""Tenants, the community register and the rubric versions a tenant may use."""

from __future__ import annotations

import json
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from pydantic import ValidationError

from core.actors import Actor
from core.domain import Community, RubricRecord, Tenant, ids
from core.errors import AlreadyExists, InvalidInput, NotFound, PluginError, RuleViolation, invalid_from
from core.plugins import PluginHost
from core.plugins.manager import _version_key
from core.rubric import Rubric
from core.services.base import LedgerBase
from core.text import check_all

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
        """A rubric the tenant may pin, and who provided it: the tenant's own versions
        first, then the plugins'. Without ``version``: the plugins' highest version, or the
        tenant's highest own one for an id no plugin provides."""
        tenant = self.tenant(actor, actor.tenant)
        own = _own_versions(tenant, rubric_id)
        if version is not None and version in own:
            return self.rubric_by_hash(own[version]), f"tenant {tenant.code}"
        try:
            provided = self.plugins.rubric(rubric_id, version)
        except NotFound:
            if version is None and own:
                return self.rubric_by_hash(own[max(own, key=_version_key)]), f"tenant {tenant.code}"
            known = sorted({*tenant.rubrics, *(p.rubric.ref for p in self.plugins.rubrics())})
            raise NotFound("rubric", f"{rubric_id}@{version}" if version else rubric_id, known=known) from None
        return provided.rubric, f"plugin {provided.plugin}"

    def record_rubric(
        self, actor: Actor, rubric: Rubric, provided_by: str, tenant: str | None = None, derived_from: str | None = None
    ) -> RubricRecord | None:
        """A new RubricRecord for ``rubric`` unless the ledger already holds that exact version."""
        record_id = ids.rubric_record_id(rubric.content_hash)
        if self.exists(record_id):
            return None
        # the definition is recorded as JSON text, where such characters are escapes: checked here
        check_all(rubric.model_dump(mode="json"), "rubric")
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

    def import_rubric(self, actor: Actor, rubric: Rubric, derived_from: str | None = None, *, reason: str) -> str:
        """Record ``rubric`` (typically read from a rubric file) as a version only the
        actor's tenant can use; returns its content hash.

        ``derived_from`` (``id`` or ``id@version``, one the tenant can use) is recorded as
        its lineage. The id@version must be new to the tenant and to the plugins; importing
        an id again with another version adds a version, and campaigns keep the one they
        pinned.
        """
        self.authorize(actor, "configure_rubric", actor.tenant)
        tenant = self.tenant(actor, actor.tenant)
        if not isinstance(rubric, Rubric):
            raise InvalidInput("rubric", type(rubric).__name__, "a validated Rubric (see core.rubric_files)")
        self._refuse_existing(tenant, rubric.id, rubric.version)
        parent = None
        if derived_from is not None:
            base_id, _, base_version = self.check_text("derived_from", derived_from, max_length=200).partition("@")
            parent = self.resolve_rubric(actor, base_id, base_version or None)[0]
        return self._record_tenant_version(actor, tenant, rubric, parent, reason, "imported rubric")

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
        self._refuse_existing(tenant, source.id, version)
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
        return self._record_tenant_version(actor, tenant, derived, source, reason, "derived rubric")

    def _refuse_existing(self, tenant: Tenant, rubric_id: str, version: str) -> None:
        ref = f"{rubric_id}@{version}"
        if ref in tenant.rubrics:
            raise AlreadyExists(f"rubric {ref} already exists for tenant {tenant.code}; choose a new version")
        try:
            provided = self.plugins.rubric(rubric_id, version)
        except NotFound:
            return
        raise AlreadyExists(f"rubric {ref} already exists (plugin {provided.plugin}); choose a new version")

    def _record_tenant_version(
        self, actor: Actor, tenant: Tenant, rubric: Rubric, parent: Rubric | None, reason: str, label: str
    ) -> str:
        """The one path by which a tenant gets a rubric version of its own: the installed
        plugins must be able to use it, then the tenant lists it and the ledger records it."""
        reason = self.check_text("reason", reason)
        problems = usage_problems(self.plugins, rubric)
        if problems:
            raise RuleViolation(f"{label} {rubric.ref}: {problems[0][1]}")
        tenant.configure_rubric(
            meta=self.meta(actor, tenant.code, reason=reason, rubric=rubric.content_hash),
            ref=rubric.ref,
            content_hash=rubric.content_hash,
        )
        parent_hash = parent.content_hash if parent is not None else None
        record = self.record_rubric(actor, rubric, f"tenant {tenant.code}", tenant.code, parent_hash)
        self.save_all(*(a for a in (tenant, record) if a is not None))
        return rubric.content_hash

    # -- rubric version queries --------------------------------------------------------

    def rubric_versions(self, actor: Actor, rubric_id: str) -> list[dict[str, Any]]:
        """Every version of ``rubric_id`` the actor's tenant can use, its own and the
        plugins', lowest version first: ref, hash, who provided it (and for the tenant's
        own, who recorded it, when and why), provisional flag and lineage (its
        derived_from chain, nearest first)."""
        tenant = self.tenant(actor, actor.tenant)
        configured = {
            event.content_hash: event.meta
            for event in self.events.get(tenant.id)
            if type(event).__qualname__ == "Tenant.RubricConfigured"
        }
        rows = []
        for version, content_hash in _own_versions(tenant, rubric_id).items():
            meta = configured.get(content_hash, {})
            rows.append(self._version_row(tenant, self.rubric_by_hash(content_hash), f"tenant {tenant.code}", meta))
        for provided in self.plugins.rubrics():
            if provided.rubric.id == rubric_id:
                rows.append(self._version_row(tenant, provided.rubric, f"plugin {provided.plugin}", {}))
        if not rows:
            known = sorted({*tenant.rubrics, *(p.rubric.ref for p in self.plugins.rubrics())})
            raise NotFound("rubric", rubric_id, known=known)
        return sorted(rows, key=lambda row: _version_key(row["version"]))

    def _version_row(self, tenant: Tenant, rubric: Rubric, provided_by: str, meta: dict[str, Any]) -> dict[str, Any]:
        lineage = self._lineage(tenant, rubric.content_hash)
        return {
            "ref": rubric.ref,
            "id": rubric.id,
            "version": rubric.version,
            "hash": rubric.content_hash,
            "title": rubric.title,
            "provided_by": provided_by,
            "recorded_by": meta.get("actor"),
            "effective": meta.get("effective"),
            "reason": meta.get("reason"),
            "provisional": rubric.is_provisional,
            "derived_from": [step["ref"] for step in lineage[1:]],
        }

    def rubric_lineage(self, actor: Actor, content_hash: str) -> list[dict[str, Any]]:
        """The version ``content_hash`` and the chain it derives from, nearest first:
        ``[{ref, hash, provided_by, derived_from}, …]`` ending at a version derived from
        nothing. Only versions the actor's tenant can see are named."""
        tenant = self.tenant(actor, actor.tenant)
        lineage = self._lineage(tenant, self.check_text("content_hash", content_hash, max_length=80))
        if lineage[0]["ref"] is None:
            raise NotFound("rubric version", content_hash)
        return lineage

    def _lineage(self, tenant: Tenant, content_hash: str) -> list[dict[str, Any]]:
        plugin_hashes = {p.rubric.content_hash: p for p in self.plugins.rubrics()}
        own = set(tenant.rubrics.values())
        chain: list[dict[str, Any]] = []
        current: str | None = content_hash
        while current is not None and all(step["hash"] != current for step in chain):
            record = self._stored_rubric_record(current)
            visible = current in own or current in plugin_hashes or (record is not None and record.tenant is None)
            if not visible:
                chain.append({"ref": None, "hash": current, "provided_by": "(not visible to this tenant)", "derived_from": None})
                break
            if current in own:
                provided_by = f"tenant {tenant.code}"
            elif current in plugin_hashes:
                provided_by = f"plugin {plugin_hashes[current].plugin}"
            else:
                provided_by = record.provided_by
            if record is not None:
                ref = f"{record.rubric_id}@{record.rubric_version}"
                parent = record.derived_from
            else:
                ref, parent = plugin_hashes[current].rubric.ref, None
            chain.append({"ref": ref, "hash": current, "provided_by": provided_by, "derived_from": parent})
            current = parent
        return chain

    def _stored_rubric_record(self, content_hash: str) -> RubricRecord | None:
        try:
            record = self.repository.get(ids.rubric_record_id(content_hash))
        except AggregateNotFoundError:
            return None
        return record if isinstance(record, RubricRecord) else None


def _own_versions(tenant: Tenant, rubric_id: str) -> dict[str, str]:
    """The tenant's own versions of ``rubric_id``: version -> content hash."""
    return {ref.split("@", 1)[1]: h for ref, h in tenant.rubrics.items() if ref.split("@", 1)[0] == rubric_id}


def usage_problems(plugins: PluginHost, rubric: Rubric) -> list[tuple[tuple[str | int, ...], str, str]]:
    """What keeps the installed plugins from using ``rubric``: ``(field path, message,
    中文说明)`` for a decision style or aggregation nobody provides, or rules its style
    rejects. Empty when it is usable."""
    problems: list[tuple[tuple[str | int, ...], str, str]] = []
    try:
        style = plugins.style(rubric.style)
    except PluginError as exc:
        problems.append((("style",), str(exc), f"未安装提供评定方式“{rubric.style}”的插件"))
        style = None
    try:
        plugins.aggregation(rubric.aggregation_name)
    except PluginError as exc:
        problems.append((("aggregation",), str(exc), f"未安装提供汇总方式“{rubric.aggregation_name}”的插件"))
    if style is not None:
        try:
            style.validate_rules(rubric)
        except ValueError as exc:
            where: tuple[str | int, ...] = ("rules",)
            for n, level in enumerate(rubric.levels):
                if str(exc).startswith(f"level {level.id!r}"):
                    where = ("levels", n, "rules")
            problems.append((where, f"decision style {rubric.style!r} rejects the rules: {exc}", "评定规则不被该评定方式接受"))
    return problems
