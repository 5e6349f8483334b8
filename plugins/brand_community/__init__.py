"""Civic Ledger plugin (being written)."""

__version__ = "0.1.0"
CIVIC_PLUGIN_API = 1
