"""Who does things: actors with a role inside one municipality (tenant)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Role(StrEnum):
    CITY_OWNER = "city_owner"
    DISTRICT_OFFICER = "district_officer"
    STREET_OFFICER = "street_officer"
    COMMUNITY = "community"
    INSPECTOR = "inspector"
    ASSESSOR = "assessor"
    RESIDENT = "resident"
    AUDITOR = "auditor"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.CITY_OWNER: "市民政局/评审委员会",
    Role.DISTRICT_OFFICER: "区民政局",
    Role.STREET_OFFICER: "街道",
    Role.COMMUNITY: "社区居委会",
    Role.INSPECTOR: "巡查组",
    Role.ASSESSOR: "评估组",
    Role.RESIDENT: "居民",
    Role.AUDITOR: "审计",
}


class Actor(BaseModel):
    """The person or body issuing a command; recorded on every event it causes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    role: Role
    organisation: str = Field(min_length=1)
    tenant: str = Field(min_length=1, description="Tenant code the actor belongs to")

    def as_record(self) -> dict[str, str]:
        return {"id": self.id, "role": self.role.value, "org": self.organisation}
