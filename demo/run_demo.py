"""``make demo``: a fresh Git repository, a real training script, real runs, then the CLI on them.

    python demo/run_demo.py [DEMO_DIR]      # default: ./demo-repo in the project root

Steps: (re)create DEMO_DIR as a Git repository with a local identity, a bare "origin" repository
and a local DVC remote inside it (DEMO_DIR/remotes/, excluded from Git); commit ``train.py``;
``gitrun init --dvc``; train a baseline on ``main`` and ``gitrun commit`` + ``gitrun push`` it
(each run logs its model with ``gitrun.sklearn.log_model``: the serialized model goes through DVC, the
demo's pyproject.toml sets a small ``dvc_threshold``, its MLmodel stays in Git); train more
runs on a feature branch, commit and push them; then show the history, the runs ordered by the
primary metric, the experiments, the best run and its model (``gitrun models show / predict``),
registered and promoted (``gitrun models register / promote``), served from its stage for a moment
by ``gitrun serve`` with one request sent to it. Needs no terminal; plain text when piped.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
EXPERIMENT = "digits-sgd"
FEATURE_BRANCH = "feature/modified-huber"
REMOTES = "remotes"
PRIMARY = "val_acc"
MODEL_NAME = "digits"  # the registered model (docs/registry.md)

# The demo must write into its own repository, whatever the caller's environment says.
_SCRUB = (
    "GITRUN_TRACKING_URI",
    "GITRUN_RUN_ID",
    "GITRUN_EXPERIMENT_NAME",
    "GITRUN_EXPERIMENT_ID",
    "GIT_DIR",
    "GIT_WORK_TREE",
)

DEMO_README = """\
# gitrun demo project

Created by `make demo` in the gitrun repository. `train.py` trains scikit-learn models on the
digits dataset and logs every run with `import gitrun as mlflow`; the runs live in `.gitrun/`.

    gitrun runs list --experiment digits-sgd
    gitrun experiments list
    gitrun log
"""

# Demo settings: serialized models (a few KB) go through DVC so the demo shows the whole path.
DEMO_PYPROJECT = """\
[tool.gitrun]
primary_metric = "val_acc"
dvc_threshold = "2KB"
"""


def missing_extras() -> str | None:
    """What to install first, when an extra the demo uses is missing (before anything is created)."""
    from gitrun.errors import MissingExtraError
    from gitrun.extras import require

    try:
        require("demo", feature="the demo (train.py trains scikit-learn models)")
        require("dvc", feature="the demo (model files go through DVC)")
        require("site", feature="the demo (it builds the report site)")
        require("serve", feature="the demo (it serves the best model)")
        require("registry", feature="the demo (it registers the best model)")
    except MissingExtraError as exc:
        return str(exc)
    return None


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env.setdefault("COLUMNS", "160")  # rich tables keep a readable width when piped
    env["PYTHONUNBUFFERED"] = "1"
    return env


def banner(text: str) -> None:
    print(f"\n=== {text}", flush=True)


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=repo, env=child_env(), capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed in {repo}:\n{result.stderr.strip()}")
    return result.stdout.strip()


def gitrun_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "gitrun", *args]


def show(repo: Path, *args: str) -> None:
    """Run a gitrun command in the demo repository, echoing it like a terminal session."""
    print(f"$ {shlex.join(['gitrun', *args])}", flush=True)
    result = subprocess.run(gitrun_cmd(*args), cwd=repo, env=child_env())
    if result.returncode != 0:
        raise SystemExit(f"`{shlex.join(['gitrun', *args])}` failed with exit code {result.returncode}")


def serve_once(repo: Path, uri: str, example: Path) -> None:
    """Start ``gitrun serve URI`` on a free port, send it one request, print the answer and the curl
    command that sends the same, and stop it with SIGTERM."""
    import signal
    import urllib.request

    print(f"$ gitrun serve {uri} --port 0", flush=True)
    proc = subprocess.Popen(
        gitrun_cmd("serve", uri, "--port", "0"), cwd=repo, env=child_env(), stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    ready = proc.stdout.readline()  # "Serving URI (version V) at http://127.0.0.1:PORT (Ctrl+C stops)"
    if " at http" not in ready:
        proc.kill()
        raise SystemExit(f"gitrun serve did not start (exit code {proc.wait()})")
    print(ready.rstrip(), flush=True)
    url = ready.split(" at ", 1)[1].split()[0]
    try:
        request = urllib.request.Request(
            f"{url}/invocations", data=example.read_bytes(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as reply:
            version = reply.headers.get("X-Gitrun-Model-Version")
            answer = reply.read().decode()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    rel = example.relative_to(repo)
    print(f"$ curl -s {url}/invocations -H 'Content-Type: application/json' -d @{rel}", flush=True)
    print(answer, flush=True)
    print(f"(answered by version {version}; the server stopped on SIGTERM with exit code {proc.returncode})")


def remote_dir(repo: Path, name: str) -> Path:
    """The demo's stand-ins for a Git host and a DVC remote: inside DEMO_DIR (one folder to delete,
    nothing left beside it in the caller's project), excluded from the demo repository's status."""
    return repo / REMOTES / name


def create_repo(repo: Path) -> str:
    """A fresh repository holding train.py (and a bare origin in remotes/); returns the commit's hash."""
    if repo.exists():
        if repo.resolve() in (ROOT, Path.home().resolve()) or (
            not (repo / "train.py").exists() and any(repo.iterdir())
        ):
            raise SystemExit(f"{repo} exists and does not look like a demo repository; choose another DEMO_DIR")
        shutil.rmtree(repo)
    repo.mkdir(parents=True)
    git(repo, "init", "-q")
    git(repo, "symbolic-ref", "HEAD", "refs/heads/main")  # same branch name whatever init.defaultBranch says
    with open(repo / ".git" / "info" / "exclude", "a", encoding="utf-8") as exclude:
        exclude.write(f"/{REMOTES}/\n")
    origin = remote_dir(repo, "origin.git")
    origin.mkdir(parents=True)
    git(origin, "init", "-q", "--bare")
    git(origin, "symbolic-ref", "HEAD", "refs/heads/main")
    # A local identity and no signing or hooks: the demo works whatever the user's Git config holds.
    for key, value in (
        ("user.name", "gitrun demo"),
        ("user.email", "demo@example.invalid"),
        ("commit.gpgsign", "false"),
        ("core.hooksPath", ".git/no-hooks"),
    ):
        git(repo, "config", "--local", key, value)
    shutil.copy(HERE / "train.py", repo / "train.py")
    (repo / "README.md").write_text(DEMO_README, encoding="utf-8")
    (repo / "pyproject.toml").write_text(DEMO_PYPROJECT, encoding="utf-8")
    git(repo, "add", "train.py", "README.md", "pyproject.toml")
    git(repo, "commit", "-q", "--no-verify", "-m", "Add digits training script")
    git(repo, "remote", "add", "origin", str(origin))
    return git(repo, "rev-parse", "HEAD")


def train(repo: Path, *args: str) -> None:
    print(f"$ {shlex.join(['python', 'train.py', *args])}", flush=True)
    result = subprocess.run([sys.executable, "train.py", *args], cwd=repo, env=child_env())
    if result.returncode != 0:
        raise SystemExit(f"train.py failed with exit code {result.returncode}")


def has_order_by() -> bool:
    result = subprocess.run(gitrun_cmd("runs", "list", "--help"), env=child_env(), capture_output=True, text=True)
    return "--order-by" in result.stdout


def ranked_runs(store: Path) -> list[tuple[str, str, str, float, float | None]]:
    """(run_id, name, status, primary metric, val_loss) of the demo's runs, best first."""
    import math

    import gitrun

    client = gitrun.Client(store)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        raise SystemExit(f"no experiment {EXPERIMENT!r} in {store}: did train.py run?")
    metric = experiment.primary_metric or PRIMARY
    sign = -1.0 if experiment.direction(metric) == "max" else 1.0
    rows = []
    for record in client.store.iter_runs([experiment.experiment_id]):
        value = record.metrics.get(metric, math.nan)
        rows.append((record.run_id, record.run_name, record.status, value, record.metrics.get("val_loss")))
    # NaN and missing values last, as MLflow orders them.
    return sorted(rows, key=lambda r: (math.isnan(r[3]), sign * r[3] if not math.isnan(r[3]) else 0.0, r[0]))


def print_ranked(rows: list[tuple[str, str, str, float, float | None]]) -> None:
    print(f"{'run_id':<26}  {'name':<28}  {'status':<8}  {PRIMARY:>8}  {'val_loss':>8}")
    for run_id, name, status, value, val_loss in rows:
        loss = f"{val_loss:8.4f}" if val_loss is not None else " " * 8
        print(f"{run_id:<26}  {name:<28}  {status:<8}  {value:8.4f}  {loss}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "demo_dir", nargs="?", default=str(ROOT / "demo-repo"), help="where to create the demo repository"
    )
    args = parser.parse_args(argv)
    missing = missing_extras()
    if missing:
        print(f"Error: {missing}", file=sys.stderr)
        return 1
    repo = Path(args.demo_dir).expanduser().absolute()
    store = repo / ".gitrun"
    started = time.perf_counter()

    banner(f"Creating a fresh Git repository in {repo}")
    commit = create_repo(repo)
    print(f"committed train.py as {commit[:12]} on branch main", flush=True)

    banner("Initialising the run store, with DVC and a local DVC remote for big files")
    show(repo, "init", "--dvc", "--remote", str(remote_dir(repo, "dvc")))

    banner("Baseline on main: log-loss SGD over alpha (scikit-learn digits)")
    train(repo, "--loss", "log_loss")
    show(repo, "commit", "-m", "Baseline: log-loss SGD over alpha")
    show(repo, "push")

    banner(f"A feature branch tries another loss: {FEATURE_BRANCH}")
    git(repo, "switch", "-q", "-c", FEATURE_BRANCH)
    train(repo, "--loss", "modified_huber")
    show(repo, "commit")
    show(repo, "push")

    banner("History of the run store")
    show(repo, "log")

    banner(f"Runs of {EXPERIMENT}, best {PRIMARY} first")
    ranked = ranked_runs(store)
    if has_order_by():
        show(repo, "runs", "list", "--experiment", EXPERIMENT, "--order-by", f"metrics.{PRIMARY} DESC")
    else:
        print(f"$ gitrun runs list --experiment {EXPERIMENT}   (sorted here by {PRIMARY})", flush=True)
        print_ranked(ranked)

    banner("Experiments")
    show(repo, "experiments", "list")

    best_id, best_name, _, best_value, _ = ranked[0]
    banner(f"Best run: {best_name} ({PRIMARY} = {best_value:.4f})")
    show(repo, "runs", "show", best_id)

    # -- Its model: MLflow's format, in Git (MLmodel) and DVC (model.skops) -------------------
    banner(f"The best run's model: gitrun models show runs:/{best_id[:10]}/model")
    show(repo, "models", "show", f"runs:/{best_id[:10]}/model")
    example = (
        store.relative_to(repo)
        / "experiments"
        / EXPERIMENT
        / "runs"
        / best_id
        / "artifacts"
        / "model"
        / "serving_input_example.json"
    )
    banner("Predict with it: MLflow's scoring input, in this environment")
    show(repo, "models", "predict", "-m", f"runs:/{best_id[:10]}/model", "-i", str(example))

    # -- The registry: a registration and a promotion are Git tags (GTO's grammar) ------------
    banner(f"Register the best model and promote it: gitrun models register {MODEL_NAME} --run {best_id[:10]}")
    show(repo, "models", "register", MODEL_NAME, "--run", best_id, "-m", f"best {PRIMARY} {best_value:.4f}")
    show(repo, "models", "promote", MODEL_NAME, "v0.0.1", "prod", "-m", "the demo's best run")
    show(repo, "models", "list")
    show(repo, "push")  # the branch, then the registry's tags

    # -- Serve it (gitrun serve): MLflow's scoring protocol over HTTP, from the registry's stage ---
    banner(f"Serve it: gitrun serve {MODEL_NAME}#prod")
    serve_once(repo, f"{MODEL_NAME}#prod", repo / example)

    # -- What the feature branch did to the experiments (gitrun diff) ----------------------------
    banner(f"What {FEATURE_BRANCH} changed: gitrun diff main {FEATURE_BRANCH}")
    show(repo, "diff", "main", FEATURE_BRANCH)

    # -- The static report site (gitrun site build) --------------------------------------------
    banner("Report site: gitrun site build")
    with open(repo / ".git" / "info" / "exclude", "a", encoding="utf-8") as exclude:
        exclude.write("_site/\n")  # the built site is not part of the demo's history
    show(repo, "site", "build", "-o", "_site")  # ends with the file:// link to open
    print(
        f"(a browser opens it from disk, no server needed), or preview it live with\n"
        f"  cd {repo} && gitrun site serve    # http://127.0.0.1:8000/index.html",
        flush=True,
    )

    elapsed = time.perf_counter() - started
    banner(f"Done in {elapsed:.1f} s")
    print(
        f"""\
Demo repository: {repo}   (branches main and {FEATURE_BRANCH})
Origin (bare):   {remote_dir(repo, "origin.git")}
DVC remote:      {remote_dir(repo, "dvc")}
Run store:       {store}
  one folder per run: {store}/experiments/{EXPERIMENT}/runs/<run id>/
  (meta.json, params.json, tags.json, metrics/*.tsv, metrics.json, artifacts/, artifacts/model/MLmodel)

Next:
  cd {repo}
  gitrun runs list --experiment {EXPERIMENT} --json
  gitrun runs show {best_id[:10]}
  gitrun models show runs:/{best_id[:10]}/model --rev main
  gitrun models history {MODEL_NAME}     # the registry's events: git tag -n shows them too
  gitrun models show {MODEL_NAME}#prod
  gitrun serve {MODEL_NAME}#prod    # MLflow's scoring server on http://127.0.0.1:5000
  gitrun log                  # the commits that added runs
  gitrun diff main {FEATURE_BRANCH} --format md     # the diff as a pull-request comment shows it
  git show --stat HEAD        # a gitrun commit: run files, and .dvc pointers for the models
""",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
