"""``MetricUnavailable``, in a module of its own so that every metric module can raise it
without importing ``evaluate`` (which imports them all)."""

from __future__ import annotations


class MetricUnavailable(Exception):
    """A metric this run cannot have; the message says why and lands in ``skipped``."""
