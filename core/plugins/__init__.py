"""The plugin interface: hook specifications, typed records and the host that loads plugins."""

import pluggy

hookimpl = pluggy.HookimplMarker("civic")

from core.plugins.manager import ENTRY_POINT_GROUP, PluginHost  # noqa: E402
from core.plugins.types import (  # noqa: E402
    PLUGIN_API_VERSION,
    Aggregation,
    CandidateEvidence,
    DecisionStyle,
    Outcome,
    PhaseSpec,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "PLUGIN_API_VERSION",
    "Aggregation",
    "CandidateEvidence",
    "DecisionStyle",
    "Outcome",
    "PhaseSpec",
    "PluginHost",
    "hookimpl",
]
