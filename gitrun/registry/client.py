"""``MlflowClient``'s model-registry methods (MLflow's names and arguments), over ``gitrun.registry.api``.

``gitrun.MlflowClient`` is the tracking client with these methods mixed in (``gitrun.client``);
each passes the client's store, so a client of another store works on that repository's registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitrun.registry import api
from gitrun.registry.entities import ModelVersion, RegisteredModel


class RegistryClient:
    """The registry half of ``MlflowClient``; ``self.store`` is the tracking store."""

    store: Any

    # -- registered models
    def create_registered_model(
        self, name: str, tags: Mapping[str, Any] | None = None, description: str | None = None, **_: Any
    ) -> RegisteredModel:
        return api.create_registered_model(name, tags, description, store=self.store)

    def get_registered_model(self, name: str) -> RegisteredModel:
        return api.get_registered_model(name, store=self.store)

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> list[RegisteredModel]:
        return api.search_registered_models(filter_string, max_results, order_by, page_token, store=self.store)

    def update_registered_model(self, name: str, description: str | None = None, **_: Any) -> RegisteredModel:
        return api.update_registered_model(name, description, store=self.store)

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        return api.rename_registered_model(name, new_name, store=self.store)

    def delete_registered_model(self, name: str) -> None:
        api.delete_registered_model(name, store=self.store)

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        api.set_registered_model_tag(name, key, value, store=self.store)

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        api.delete_registered_model_tag(name, key, store=self.store)

    # -- versions
    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        await_creation_for: int = 300,
        model_id: str | None = None,
    ) -> ModelVersion:
        return api.create_model_version(
            name, source, run_id, tags, run_link, description, await_creation_for, model_id, store=self.store
        )

    def get_model_version(self, name: str, version: str | int) -> ModelVersion:
        return api.get_model_version(name, version, store=self.store)

    def get_latest_versions(self, name: str, stages: list[str] | None = None) -> list[ModelVersion]:
        return api.get_latest_versions(name, stages, store=self.store)

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = 10000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> list[ModelVersion]:
        return api.search_model_versions(filter_string, max_results, order_by, page_token, store=self.store)

    def update_model_version(self, name: str, version: str | int, description: str | None = None) -> ModelVersion:
        return api.update_model_version(name, version, description, store=self.store)

    def delete_model_version(self, name: str, version: str | int) -> None:
        api.delete_model_version(name, version, store=self.store)

    def set_model_version_tag(
        self,
        name: str,
        version: str | int | None = None,
        key: str | None = None,
        value: Any = None,
        stage: str | None = None,
    ) -> None:
        api.set_model_version_tag(name, version, key, value, stage, store=self.store)

    def delete_model_version_tag(
        self, name: str, version: str | int | None = None, key: str | None = None, stage: str | None = None
    ) -> None:
        api.delete_model_version_tag(name, version, key, stage, store=self.store)

    def get_model_version_download_uri(self, name: str, version: str | int) -> str:
        return api.get_model_version_download_uri(name, version, store=self.store)

    # -- aliases and stages
    def set_registered_model_alias(self, name: str, alias: str, version: str | int) -> None:
        api.set_registered_model_alias(name, alias, version, store=self.store)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        api.delete_registered_model_alias(name, alias, store=self.store)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return api.get_model_version_by_alias(name, alias, store=self.store)

    def transition_model_version_stage(
        self, name: str, version: str | int, stage: str, archive_existing_versions: bool = False
    ) -> ModelVersion:
        return api.transition_model_version_stage(name, version, stage, archive_existing_versions, store=self.store)
