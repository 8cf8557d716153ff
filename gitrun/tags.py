"""Names of the system tags gitrun reads and writes, in one place.

MLflow's names where MLflow has one (``mlflow.*``: scripts and MLflow's UI read them), gitrun's own
under ``gitrun.*``. Code compares and writes these constants, never the string literals.
"""

from __future__ import annotations

# MLflow's system tags
RUN_NAME = "mlflow.runName"
PARENT_RUN_ID = "mlflow.parentRunId"
NOTE = "mlflow.note.content"  # the run's description (Markdown)
USER = "mlflow.user"
SOURCE_NAME = "mlflow.source.name"
SOURCE_TYPE = "mlflow.source.type"
GIT_COMMIT = "mlflow.source.git.commit"
GIT_BRANCH = "mlflow.source.git.branch"
GIT_REPO_URL = "mlflow.source.git.repoURL"
LOGGED_IMAGES = "mlflow.loggedImages"
DATASETS = "mlflow.datasets"  # which datasets evaluated which model (gitrun.evaluate)
DATA_CONTEXT = "mlflow.data.context"  # a dataset input's tag: what the dataset was used for

# gitrun's own
HOST = "gitrun.host"
GIT_DIRTY = "gitrun.git.dirty"
CODE_DIFF = "gitrun.git.diff"  # what happened to the run's code.diff
CI_PREFIX = "gitrun.ci."
CI_PROVIDER = "gitrun.ci.provider"
CI_RUN_URL = "gitrun.ci.run_url"
