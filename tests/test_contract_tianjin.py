"""The Tianjin 美丽社区 plugin passes the plugin contract (core.testing.PluginContract):
it registers cleanly, its rubric validates with a stable hash, its threshold style accepts
the rubric's rules and decides deterministically, with reasons, identically on replay, and
its Dongli demo builds once."""

from __future__ import annotations

import plugins.tianjin_meili as tianjin_meili
from core.testing import PluginContract


class TestTianjinMeiliContract(PluginContract):
    plugin = tianjin_meili
    plugin_name = "tianjin_meili"
