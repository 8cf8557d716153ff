"""``gitrun.client``: the public home of :class:`Client` / ``MlflowClient``: the tracking client
(``gitrun.tracking.client``) with the model registry's methods (``gitrun.registry.client``)."""

from __future__ import annotations

from gitrun.registry.client import RegistryClient
from gitrun.tracking.client import Client as TrackingClient


class Client(RegistryClient, TrackingClient):
    """MLflow's ``MlflowClient``: runs and experiments of one store, and the model registry of its repository."""


MlflowClient = Client

__all__ = ["Client", "MlflowClient"]
