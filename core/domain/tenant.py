"""Tenant: a municipality that owns communities, campaigns and rubric versions."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from core.domain import ids


class Tenant(Aggregate):
    """A municipality (市/区民政局) using the platform; every stream belongs to one."""

    @staticmethod
    def create_id(meta: dict[str, Any], code: str, name: str) -> UUID:
        return ids.tenant_id(code)

    @event("Registered")
    def __init__(self, meta: dict[str, Any], code: str, name: str) -> None:
        self.code = code
        self.name = name
        self.communities: list[str] = []
        self.campaigns: list[str] = []
        self.rubrics: dict[str, str] = {}

    @event("CommunityListed")
    def list_community(self, meta: dict[str, Any], community_id: str) -> None:
        self.communities.append(community_id)

    @event("CampaignListed")
    def list_campaign(self, meta: dict[str, Any], campaign_id: str) -> None:
        self.campaigns.append(campaign_id)

    @event("RubricConfigured")
    def configure_rubric(self, meta: dict[str, Any], ref: str, content_hash: str) -> None:
        self.rubrics[ref] = content_hash
