"""gitrun's own project backends, registered through the ``gitrun_project_backends`` hook like a
third-party plugin's (named by ``"module:attribute"``: nothing is imported until one is used)."""

from __future__ import annotations

import pluggy

hookimpl = pluggy.HookimplMarker("gitrun")


@hookimpl
def gitrun_project_backends() -> dict[str, str]:
    return {
        "local": "gitrun.projects.backends:LocalBackend",
        "dask": "gitrun.projects.dask_backend:DaskBackend",
    }
