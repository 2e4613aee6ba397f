"""Spacewatch."""
