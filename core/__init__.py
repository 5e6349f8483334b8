"""Civic Ledger core: event-sourced campaigns, candidacies, inspections and decisions.

The core knows no city: rubrics come from plugins (see :mod:`core.plugins.hookspecs`);
the generic decision styles they name are built in (:mod:`core.styles`), and plugins may
add styles of their own.
"""

__version__ = "0.1.0"
