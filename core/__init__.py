"""Civic Ledger core: event-sourced campaigns, candidacies, inspections and decisions.

The core knows no city: rubrics and decision styles come from plugins
(see :mod:`core.plugins.hookspecs`).
"""

__version__ = "0.1.0"
