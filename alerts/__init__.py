"""Alerts: topic rules, messages per channel, delivery and digests, the monitor's health."""
