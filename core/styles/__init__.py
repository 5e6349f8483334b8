"""The decision styles built into the core: ``threshold``, ``checklist-by-type`` and
``quota-ranking``.

Each is driven entirely by rubric data (the rubric's ``rules`` and its levels' own
``rules``), so any rubric may name one, and anyone holding the core can recompute a
decision made with one of them from an exported bundle without installing a plugin.
They are registered through ``civic_decision_styles`` by :mod:`core.plugins.builtins`
(the plugin named ``core``); a plugin may still add styles of its own the same way.
"""

from __future__ import annotations

from core.styles.checklist import ChecklistByTypeStyle
from core.styles.quota import QuotaRankingStyle
from core.styles.threshold import ThresholdStyle

#: One instance of every built-in style, in the order ``civic_decision_styles`` returns them.
BUILTIN_STYLES = (ThresholdStyle(), ChecklistByTypeStyle(), QuotaRankingStyle())

__all__ = ["BUILTIN_STYLES", "ChecklistByTypeStyle", "QuotaRankingStyle", "ThresholdStyle"]
