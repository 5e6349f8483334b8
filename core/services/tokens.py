"""Access tokens: issued by the platform's operator (the command line on the server), one
tenant and one role each; only their SHA-256 is recorded."""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any

from core.actors import ROLE_LABELS, Actor, Role
from core.domain import AccessToken, ids
from core.errors import InvalidInput, NotFound, RuleViolation
from core.services.base import ALL_TENANTS
from core.services.integrity import IntegrityQueries

#: Tokens look like ``civic_<43 url-safe characters>`` (256 random bits).
TOKEN_PREFIX = "civic_"
TOKEN_SHAPE = re.compile(r"^civic_[A-Za-z0-9_-]{43}$")
TENANT_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: How many known streets or communities a refused token organisation lists at most.
LISTED = 50


def token_digest(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenCommands(IntegrityQueries):
    def operator_meta(self, operator: str, tenant: str, reason: str | None) -> dict[str, Any]:
        """Who issued or revoked a token: the operator at the server's command line."""
        return {
            "actor": {"id": self.check_text("operator", operator, max_length=100), "role": "operator",
                      "org": "platform operator (command line)"},
            "tenant": tenant, "effective": self.today(), "reason": reason,
            "campaign": None, "rubric": None,
        }

    def issue_token(
        self, operator: str, tenant: str, role: str, name: str, organisation: str | None = None,
        reason: str | None = None,
    ) -> tuple[str, str]:
        """A new bearer token for ``name`` acting as ``role`` in ``tenant`` (``*``: every
        tenant, auditors only). The tenant must be registered, except for a city owner's
        token: that is how a new municipality starts (its owner registers it with
        ``POST /tenants``). A street officer's ``organisation`` must be the street of a
        registered community of the tenant, a community's the name of a registered
        community of the tenant (that is what they may act for). Returns
        ``(token id, token)``; the token is never stored."""
        try:
            role_value = Role(str(role))
        except ValueError:
            raise InvalidInput("role", role, ", ".join(r.value for r in Role)) from None
        tenant = str(tenant)
        if tenant == ALL_TENANTS:
            if role_value is not Role.AUDITOR:
                raise InvalidInput("tenant", tenant, "a tenant code; '*' (every tenant) is for auditors only")
        else:
            if not TENANT_CODE.match(tenant):
                raise InvalidInput("tenant", tenant, "a tenant code: letters, digits, '_', '.', '-' (at most 64)")
            if role_value is not Role.CITY_OWNER:
                # a new municipality starts with its city owner's token, who registers it
                self.tenant(Actor(id=operator or "operator", role=Role.AUDITOR, organisation="operator", tenant=tenant), tenant)
        name = self.check_text("name", name, max_length=100)
        organisation = self.check_text("organisation", organisation or ROLE_LABELS[role_value], max_length=200)
        if role_value in (Role.STREET_OFFICER, Role.COMMUNITY):
            self._check_bound_organisation(operator, tenant, role_value, organisation)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        record = AccessToken(
            meta=self.operator_meta(operator, tenant, reason or f"token for {name} ({role_value.value})"),
            digest=token_digest(token), tenant=tenant, role=role_value.value, name=name, organisation=organisation,
        )
        self.save_all(record)
        return str(record.id), token

    def _check_bound_organisation(self, operator: str, tenant: str, role: Role, organisation: str) -> None:
        """A street officer's token acts for a street, a community's for one community
        (see core.permissions): its organisation must name a street of a registered
        community of ``tenant``, or a registered community of ``tenant``, by name."""
        reader = Actor(id=operator or "operator", role=Role.AUDITOR, organisation="operator", tenant=tenant)
        communities = [self.community(reader, cid) for cid in self.tenant(reader, tenant).communities]
        if role is Role.STREET_OFFICER:
            known = sorted({c.street for c in communities})
            what = f"租户 {tenant} 已登记社区所在的街道 a street of a registered community of tenant {tenant}"
        else:
            known = sorted({c.name for c in communities})
            what = f"租户 {tenant} 已登记的社区名称 the name of a registered community of tenant {tenant}"
        if organisation in known:
            return
        if not known:
            listed = "（尚未登记社区 no community registered yet）"
        else:
            listed = ", ".join(known[:LISTED])
            if len(known) > LISTED:
                listed += f" …（另有 {len(known) - LISTED} 个 {len(known) - LISTED} more）"
        raise InvalidInput("organisation", organisation, f"{what}: {listed}")

    def revoke_token(self, operator: str, token_id: str, reason: str) -> None:
        record = self._token_record(token_id)
        if record.revoked is not None:
            raise RuleViolation(f"token {token_id} was already revoked on {record.revoked['on']}")
        record.revoke(meta=self.operator_meta(operator, record.tenant, self.check_text("reason", reason)))
        self.save_all(record)

    def _token_record(self, token_id: str, *, readonly: bool = False) -> AccessToken:
        operator = Actor(id="operator", role=Role.AUDITOR, organisation="operator", tenant=ALL_TENANTS)
        return self.load(AccessToken, token_id, operator, "token", readonly=readonly)

    def tokens_of(self, tenant: str) -> list[dict[str, Any]]:
        """The tokens issued for a tenant (never the tokens themselves)."""
        rows = []
        operator = Actor(id="operator", role=Role.AUDITOR, organisation="operator", tenant=ALL_TENANTS)
        for notification in self._token_streams():
            record = self.load(AccessToken, notification, operator, "token", readonly=True)
            if record.tenant == tenant:
                rows.append({
                    "id": str(record.id), "name": record.name, "role": record.role, "organisation": record.organisation,
                    "tenant": record.tenant, "issued_on": record.issued_on, "revoked": record.revoked,
                })
        return rows

    def _token_streams(self) -> list[str]:
        from eventsourcing.utils import get_topic

        topic = get_topic(AccessToken.Issued)
        found: list[str] = []
        start: int | None = None
        while page := self.recorder.select_notifications(start=start, limit=1000, topics=[topic]):
            found.extend(str(n.originator_id) for n in page)
            start = page[-1].id + 1
        return found

    def actor_for_token(self, token: str) -> Actor:
        """The actor a bearer token acts as; NotFound for an unknown, malformed or revoked one
        (the three are deliberately indistinguishable)."""
        if not isinstance(token, str) or not TOKEN_SHAPE.match(token):
            raise NotFound("token", "(not shown)")
        try:
            record = self._token_record(str(ids.token_id(token_digest(token))), readonly=True)
        except NotFound:
            raise NotFound("token", "(not shown)") from None
        if record.revoked is not None:
            raise NotFound("token", "(not shown)")
        return Actor(id=record.name, role=Role(record.role), organisation=record.organisation, tenant=record.tenant)

    def issue_demo_tokens(self, operator: str) -> dict[str, dict[Role, str]]:
        """Fresh tokens, one per role, for every installed demo's tenant that the store
        holds: ``{tenant: {role: token}}``. A street officer's token acts for the street of
        the tenant's first community and a community's token for that community (a
        tenant without communities gets neither)."""
        tokens: dict[str, dict[Role, str]] = {}
        for name, (demo, _) in sorted(self.plugins.demos().items()):
            tenant = demo.reader.tenant
            if tenant in tokens:
                continue
            try:
                record = self.tenant(demo.reader, tenant)
            except NotFound:
                continue
            first = self.community(demo.reader, record.communities[0]) if record.communities else None
            bound = {Role.STREET_OFFICER: first.street, Role.COMMUNITY: first.name} if first else {}
            tokens[tenant] = {}
            for role in Role:
                if role in (Role.STREET_OFFICER, Role.COMMUNITY) and role not in bound:
                    continue  # nothing to act for before a community is registered
                organisation = bound.get(role, ROLE_LABELS[role])
                _, tokens[tenant][role] = self.issue_token(
                    operator, tenant, role.value, f"演示-{ROLE_LABELS[role]}", organisation,
                    reason=f"demo token ({name})",
                )
        return tokens
