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
LOGGED_ARTIFACTS = "mlflow.loggedArtifacts"  # JSON list of {"path", "type": "table"} (log_table)
DATA_CONTEXT = "mlflow.data.context"  # a dataset input's tag: what the dataset was used for
DATASETS = "mlflow.datasets"  # which datasets evaluated which model (gitrun.evaluate)
AUTOLOGGING = "mlflow.autologging"  # on a run autolog started: the integration that started it
PROJECT_ENTRY_POINT = "mlflow.project.entryPoint"
PROJECT_BACKEND = "mlflow.project.backend"
PROJECT_ENV = "mlflow.project.env"

MLFLOW_PREFIX = "mlflow."

# gitrun's own
GITRUN_PREFIX = "gitrun."
HOST = "gitrun.host"
GIT_DIRTY = "gitrun.git.dirty"
CODE_DIFF = "gitrun.git.diff"  # what happened to the run's code.diff
CODE_DIFF_SHA256 = "gitrun.git.diff.sha256"  # its diff, kept once per store: code/<this>.diff
CI_PREFIX = "gitrun.ci."
CI_PROVIDER = "gitrun.ci.provider"
CI_RUN_URL = "gitrun.ci.run_url"

SYSTEM_PREFIXES = (MLFLOW_PREFIX, GITRUN_PREFIX)  # tags a tool sets, not the user (the site hides them at first)

# gitrun's own, for commands, projects and sweeps (gitrun.projects; docs/projects.md)
COMMAND = "gitrun.command"  # the command line a run ran
EXIT_STATUS = "gitrun.exit_status"  # its exit status (128 + N when killed by signal N)
OUTPUT = "gitrun.output"  # how its stdout/stderr were kept
ERROR = "gitrun.error"  # why it failed before or around its command
ENV_PYTHON = "gitrun.env.python"
ENV_PLATFORM = "gitrun.env.platform"
ENV_PACKAGES = "gitrun.env.packages"  # hash of the environment's installed distributions
DVC_STAGE = "gitrun.dvc.stage"  # DVC_STAGE of a run inside `dvc repro` / `dvc exp run`
DVC_ROOT = "gitrun.dvc.root"
DVC_EXPERIMENT = "gitrun.dvc.experiment"
DVC_BASELINE = "gitrun.dvc.baseline_rev"
SWEEP_SPACE = "gitrun.sweep.space"  # on a sweep's parent run
SWEEP_MODE = "gitrun.sweep.mode"
SWEEP_SEED = "gitrun.sweep.seed"
SWEEP_TRIALS = "gitrun.sweep.trials"
SWEEP_SKIPPED = "gitrun.sweep.skipped"
SWEEP_FAILED = "gitrun.sweep.failed"
SWEEP_BEST_RUN = "gitrun.sweep.best_run"
SWEEP_TRIAL = "gitrun.sweep.trial"  # on each trial's run: its number in the sweep
