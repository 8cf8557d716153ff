"""``gitrun.client``: the public home of :class:`Client` / ``MlflowClient`` (defined in ``gitrun.tracking.client``)."""

from __future__ import annotations

from gitrun.tracking.client import Client, MlflowClient

__all__ = ["Client", "MlflowClient"]
