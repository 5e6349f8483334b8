"""Deterministic stream ids: the same natural key always names the same stream."""

from __future__ import annotations

from uuid import UUID, uuid5

NAMESPACE = UUID("6f1d4c1e-8a43-5b8e-9c55-1c1e7d0a2b11")


def tenant_id(code: str) -> UUID:
    return uuid5(NAMESPACE, f"tenant:{code}")


def community_id(tenant: str, code: str) -> UUID:
    return uuid5(NAMESPACE, f"community:{tenant}:{code}")


def campaign_id(tenant: str, code: str) -> UUID:
    return uuid5(NAMESPACE, f"campaign:{tenant}:{code}")


def candidacy_id(campaign: UUID, community: UUID, level: str) -> UUID:
    return uuid5(NAMESPACE, f"candidacy:{campaign}:{community}:{level}")


def rubric_record_id(content_hash: str) -> UUID:
    return uuid5(NAMESPACE, f"rubric:{content_hash}")


def selection_id(tenant: str, code: str) -> UUID:
    return uuid5(NAMESPACE, f"selection:{tenant}:{code}")


def token_id(digest: str) -> UUID:
    return uuid5(NAMESPACE, f"token:{digest}")
