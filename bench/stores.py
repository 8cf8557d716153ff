"""Build large stores fast by writing their files directly, for the search benchmarks.

Logging 10,000 runs through MLflow's API takes minutes (about 22 ms per run with 10 params and
10 metrics on its file store), so both stores are written here file by file, in the exact formats
the two readers expect, and then read back through each tool's own reader to prove they were
understood (:func:`verify_gitrun_store`, :func:`verify_mlflow_store`).

Both stores hold the same runs: run ``i`` (``0 <= i < n``) is named ``f{i}``, has params
``p{j} = str(j * i)`` and one point (step 0) of metrics ``m{j} = j / (i + 1)`` for
``0 <= j < 10``, the system tags a real run gets (user, source, Git commit), status FINISHED,
and start times one second apart. This mirrors the runs of MLflow's own measurement
(../shared/reference/mlflow.md section 11, ``bench2.py``), logged there with one ``log_params``
and one ``log_metrics`` call per run.

gitrun format (gitrun/store/layout.py, writer.py)::

    <root>/store.yaml  <root>/.gitignore
    <root>/experiments/<slug>/experiment.yaml
    <root>/experiments/<slug>/runs/<ULID>/{meta.json, params.json, tags.json, metrics.json,
                                             metrics/<key>.tsv}

MLflow file-store format (reference/mlflow.md section 3)::

    <mlruns>/0/meta.yaml  <mlruns>/<exp_id>/meta.yaml
    <mlruns>/<exp_id>/<run_uuid>/{meta.yaml, params/<k>, metrics/<k>, tags/<k>, artifacts/}

This module imports neither gitrun nor MLflow at import time: only the ``verify_*`` functions do.
"""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import tarfile
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

N_PARAMS = 10
N_METRICS = 10
EXPERIMENT_NAME = "bench"
GITRUN_EXPERIMENT_ID = "bench"  # the slug of EXPERIMENT_NAME
MLFLOW_EXPERIMENT_ID = "424242424242424242"
BASE_MS = 1_780_000_000_000  # start time of run 0 (mid 2026)
GIT_COMMIT = "0123456789abcdef0123456789abcdef01234567"
USER = "bench"
HOST = "bench-host"
SOURCE = "train.py"

SEARCH_FILTER = "metrics.m1 > 0.01 and params.p2 != '0'"
SEARCH_ORDER = ["metrics.m1 DESC"]
SEARCH_MAX = 50

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@dataclass(frozen=True)
class RunSpec:
    index: int
    name: str
    start_ms: int
    end_ms: int
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]


def run_spec(i: int) -> RunSpec:
    """The content of run ``i``, identical in both stores."""
    start = BASE_MS + i * 1000
    name = f"f{i}"
    return RunSpec(
        index=i,
        name=name,
        start_ms=start,
        end_ms=start + 500,
        params={f"p{j}": str(j * i) for j in range(N_PARAMS)},
        metrics={f"m{j}": j / (i + 1) for j in range(N_METRICS)},
        tags={
            "mlflow.runName": name,
            "mlflow.user": USER,
            "mlflow.source.name": SOURCE,
            "mlflow.source.type": "LOCAL",
            "mlflow.source.git.commit": GIT_COMMIT,
        },
    )


def expected_search(n: int) -> list[str]:
    """Run names :data:`SEARCH_FILTER` / :data:`SEARCH_ORDER` / :data:`SEARCH_MAX` must return, in order."""
    hits = [run_spec(i) for i in range(n)]
    hits = [r for r in hits if r.metrics["m1"] > 0.01 and r.params["p2"] != "0"]
    # metrics.m1 DESC; ties (none here: m1 = 1/(i+1) is strictly decreasing) would fall back to
    # start_time DESC then run_id.
    hits.sort(key=lambda r: -r.metrics["m1"])
    return [r.name for r in hits[:SEARCH_MAX]]


def ulid(ms: int, rng: random.Random) -> str:
    """A ULID string: 48-bit millisecond time then 80 random bits, Crockford base32."""
    value = (ms << 80) | rng.getrandbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def _dumps(obj: object) -> str:
    # gitrun's canonical JSON (gitrun/store/textio.py): sorted keys, 2-space indent, newline.
    return json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _write(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


# -- gitrun ----------------------------------------------------------------------------------
def build_gitrun_store(root: Path, n: int, seed: int = 1) -> dict[str, str]:
    """Write ``n`` finished runs into a new gitrun store at ``root``; returns run name -> run ID."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    _write(
        root / "store.yaml",
        "# gitrun run store (docs/format.md). Readers refuse a newer major version.\nformat_version: '1.0'\n",
    )
    _write(root / ".gitignore", ".cache/\n*.lock\n.heartbeat-*\n.*.tmp\n")
    exp_dir = root / "experiments" / GITRUN_EXPERIMENT_ID
    runs_dir = exp_dir / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    _write(exp_dir / "experiment.yaml", f"# gitrun experiment (docs/format.md)\nname: {EXPERIMENT_NAME}\n")
    ids: dict[str, str] = {}
    for i in range(n):
        spec = run_spec(i)
        run_id = ulid(spec.start_ms, rng)
        ids[spec.name] = run_id
        run_dir = runs_dir / run_id
        (run_dir / "metrics").mkdir(parents=True)
        meta = {
            "end_time": spec.end_ms,
            "host": HOST,
            "lifecycle_stage": "active",
            "parent_run_id": None,
            "pid": 1,
            "run_id": run_id,
            "run_name": spec.name,
            "source": SOURCE,
            "start_time": spec.start_ms,
            "status": "FINISHED",
            "user": USER,
        }
        _write(run_dir / "meta.json", _dumps(meta))
        _write(run_dir / "params.json", _dumps(spec.params))
        _write(run_dir / "tags.json", _dumps(spec.tags))
        summary = {}
        ts = spec.start_ms + 100
        for key, value in spec.metrics.items():
            series = f"step\ttimestamp\t{key}\n0\t{ts}\t{value!r}\n"
            _write(run_dir / "metrics" / f"{key}.tsv", series)
            summary[key] = {
                "bytes": len(series.encode("utf-8")),
                "count": 1,
                "latest": value,
                "max": value,
                "min": value,
                "step": 0,
                "timestamp": ts,
            }
        _write(run_dir / "metrics.json", _dumps(summary))
    return ids


def verify_gitrun_store(root: Path, n: int) -> int:
    """Read every run back with gitrun's own reader and compare with what was written.

    Also checks that the stored summaries were trusted (no recomputation): gitrun only reuses a
    ``metrics.json`` entry whose ``bytes`` equals the series file's size.
    """
    import warnings

    from gitrun.store import Store

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any "cannot parse" warning means the files are wrong
        records = list(Store(root, strict=True).iter_runs([GITRUN_EXPERIMENT_ID]))
    if len(records) != n:
        raise AssertionError(f"gitrun reads {len(records)} runs in {root}, expected {n}")
    for record in records:
        i = int(record.run_name[1:])
        spec = run_spec(i)
        problems = []
        if record.params != spec.params:
            problems.append(f"params {record.params}")
        if record.metrics != spec.metrics:
            problems.append(f"metrics {record.metrics}")
        if record.tags != spec.tags:
            problems.append(f"tags {record.tags}")
        if (record.status, record.start_time, record.end_time) != ("FINISHED", spec.start_ms, spec.end_ms):
            problems.append(f"status/times {record.status} {record.start_time} {record.end_time}")
        if problems:
            raise AssertionError(f"run {record.run_id} ({record.run_name}) reads back wrong: {'; '.join(problems)}")
    return len(records)


# -- MLflow file store -----------------------------------------------------------------------
def mlflow_run_ids(n: int, seed: int = 1) -> dict[str, str]:
    """Run name -> run ID (uuid4 hex) of the runs :func:`build_mlflow_store` writes (deterministic)."""
    rng = random.Random(seed)
    return {f"f{i}": uuid.UUID(int=rng.getrandbits(128), version=4).hex for i in range(n)}


def build_mlflow_store(mlruns: Path, n: int, seed: int = 1) -> dict[str, str]:
    """Write ``n`` finished runs into a new MLflow file store at ``mlruns``; returns name -> run ID."""
    ids = mlflow_run_ids(n, seed)
    uri = mlruns.absolute().as_uri()
    default = mlruns / "0"
    default.mkdir(parents=True, exist_ok=True)
    _write(default / "meta.yaml", _experiment_yaml("0", "Default", f"{uri}/0"))
    exp_dir = mlruns / MLFLOW_EXPERIMENT_ID
    exp_dir.mkdir(parents=True, exist_ok=True)
    _write(
        exp_dir / "meta.yaml", _experiment_yaml(MLFLOW_EXPERIMENT_ID, EXPERIMENT_NAME, f"{uri}/{MLFLOW_EXPERIMENT_ID}")
    )
    for i in range(n):
        spec = run_spec(i)
        run_id = ids[spec.name]
        run_dir = exp_dir / run_id
        for sub in ("params", "metrics", "tags", "artifacts"):
            (run_dir / sub).mkdir(parents=True)
        _write(
            run_dir / "meta.yaml",
            f"artifact_uri: {uri}/{MLFLOW_EXPERIMENT_ID}/{run_id}/artifacts\n"
            f"end_time: {spec.end_ms}\n"
            "entry_point_name: ''\n"
            f"experiment_id: '{MLFLOW_EXPERIMENT_ID}'\n"
            "lifecycle_stage: active\n"
            f"run_id: {run_id}\n"
            f"run_name: {spec.name}\n"
            "source_name: ''\n"
            "source_type: 4\n"
            "source_version: ''\n"
            f"start_time: {spec.start_ms}\n"
            "status: 3\n"
            "tags: []\n"
            f"user_id: {USER}\n",
        )
        for key, value in spec.params.items():
            _write(run_dir / "params" / key, value)
        for key, value in spec.tags.items():
            _write(run_dir / "tags" / key, value)
        ts = spec.start_ms + 100
        for key, value in spec.metrics.items():
            _write(run_dir / "metrics" / key, f"{ts} {value!r} 0\n")
    return ids


def _experiment_yaml(experiment_id: str, name: str, location: str) -> str:
    return (
        f"artifact_location: {location}\n"
        f"creation_time: {BASE_MS}\n"
        "effective_trace_archival_retention: null\n"
        f"experiment_id: '{experiment_id}'\n"
        f"last_update_time: {BASE_MS}\n"
        "lifecycle_stage: active\n"
        f"name: {name}\n"
        "trace_location: null\n"
        "workspace: default\n"
    )


def verify_mlflow_store(tracking_uri: str, experiment_id: str, ids: dict[str, str], sample: int = 20) -> int:
    """Read a sample of runs back through MLflow's client and compare with what was written.

    The full set is checked by the search benchmark itself, whose result must equal
    :func:`expected_search` for every store.
    """
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    exp = client.get_experiment(experiment_id)
    if exp.name != EXPERIMENT_NAME:
        raise AssertionError(f"MLflow reads experiment {experiment_id} as {exp.name!r}")
    names = sorted(ids, key=lambda s: int(s[1:]))
    step = max(1, len(names) // sample)
    checked = 0
    for name in names[::step]:
        run = client.get_run(ids[name])
        spec = run_spec(int(name[1:]))
        if run.data.params != spec.params or run.data.metrics != spec.metrics:
            raise AssertionError(f"MLflow reads run {name} back wrong: {run.data.params} {run.data.metrics}")
        if {k: v for k, v in run.data.tags.items() if k in spec.tags} != spec.tags:
            raise AssertionError(f"MLflow reads the tags of run {name} back wrong: {run.data.tags}")
        if (run.info.status, run.info.start_time, run.info.end_time) != ("FINISHED", spec.start_ms, spec.end_ms):
            raise AssertionError(f"MLflow reads run {name} info back wrong: {run.info}")
        checked += 1
    return checked


def count_files(root: Path) -> tuple[int, int]:
    """Number of files and their total size in bytes under ``root``."""
    files = size = 0
    for folder, _, names in os.walk(root):
        for name in names:
            files += 1
            size += os.path.getsize(os.path.join(folder, name))
    return files, size


# -- Git repositories for the Git-path benchmarks (bench_git.py, bench_diff.py) ------------------
ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith(("GITRUN_", "GIT_DIR", "GIT_WORK_TREE"))},
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    "DVC_NO_ANALYTICS": "1",
    "NO_COLOR": "1",
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, env=ENV, check=True, capture_output=True, text=True).stdout


def new_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "commit.gpgsign", "false")
    # No detached `git gc --auto` / `git maintenance run --auto` while the bench measures: at
    # 100,000 runs one repacked the repository for 20 minutes at 90% I/O pressure, slowing every
    # figure taken meanwhile. What gc costs a user is not what these benches measure.
    git(path, "config", "gc.auto", "0")
    git(path, "config", "maintenance.auto", "false")
    (path / "README.md").write_text("bench\n")
    git(path, "add", "README.md")
    git(path, "commit", "-q", "-m", "init")
    return path


def commit_packed(repo: Path, folder: str, message: str) -> str:
    """Commit every file under ``repo/folder`` (as ``git add -A folder && git commit`` would) with
    the file contents in one pack: ``git add`` writes a loose object per file (1.4 million of them
    at 100,000 runs, 6 GiB, which ``git gc`` then reads back at a few MB/s).

    The blobs go through ``git fast-import`` (``blob`` commands, marks exported), the index gets
    their IDs (``update-index --index-info``) and ``git write-tree`` makes the trees, loose (a few
    per run). Not one ``fast-import`` commit with an ``M`` line per file: fast-import scans a
    folder's entries linearly, which at 100,000 run folders in one ``runs/`` is quadratic (it ran
    for over ten minutes). Returns the new commit's ID."""
    listed = subprocess.run(  # what `git add -A` would take: tracked and not ignored
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", folder],
        cwd=repo,
        env=ENV,
        check=True,
        capture_output=True,
    ).stdout
    paths = sorted(set(listed.split(b"\0")) - {b""})
    with tempfile.TemporaryDirectory() as tmp:
        marks = Path(tmp) / "marks"
        importer = ["git", "fast-import", "--quiet", "--done", f"--export-marks={marks}"]
        proc = subprocess.Popen(importer, cwd=repo, env=ENV, stdin=subprocess.PIPE)
        assert proc.stdin is not None
        out = io.BufferedWriter(proc.stdin, buffer_size=1 << 20)
        for number, rel in enumerate(paths, 1):
            data = (repo / os.fsdecode(rel)).read_bytes()
            out.write(b"blob\nmark :%d\ndata %d\n%s\n" % (number, len(data), data))
        out.write(b"done\n")
        out.flush()
        proc.stdin.close()
        if proc.wait() != 0:
            raise RuntimeError(f"git fast-import failed in {repo}")
        ids = dict(line.split(" ", 1) for line in marks.read_text().splitlines())
    entries = b"".join(b"100644 %s\t%s\0" % (ids[f":{n}"].encode(), rel) for n, rel in enumerate(paths, 1))
    subprocess.run(["git", "update-index", "-z", "--index-info"], cwd=repo, env=ENV, input=entries, check=True)
    tree = git(repo, "write-tree").strip()
    parent = git(repo, "rev-parse", "HEAD").strip()
    commit = git(repo, "commit-tree", tree, "-p", parent, "-m", message).strip()
    git(repo, "update-ref", "HEAD", commit)
    subprocess.run(["git", "update-index", "-q", "--refresh"], cwd=repo, env=ENV, check=False, capture_output=True)
    return commit


# What the side-by-side benchmarks run their child processes with: byte-compiled imports, as a real
# environment has them (this machine's shell disables .pyc files), this checkout first on the path,
# and MLflow's file store allowed without its telemetry.
RUN_ENV = {k: v for k, v in ENV.items() if k != "PYTHONDONTWRITEBYTECODE"}
RUN_ENV.update(
    PYTHONPATH=str(Path(__file__).resolve().parent.parent),
    PYTHONPYCACHEPREFIX=str(Path(tempfile.gettempdir()) / "gitrun-bench-pyc"),
    MLFLOW_DISABLE_TELEMETRY="true",
    MLFLOW_ALLOW_FILE_STORE="true",
)

# run_all.py rewrites RESULTS.md above this line and keeps everything below it.
KEEP_MARK = (
    "<!-- Sections below come from the other benchmarks (bench_git.py, bench_diff.py, bench_site.py); "
    "run_all.py keeps them. -->"
)


def write_section(path: Path, begin: str, end: str, text: str) -> None:
    """Replace the section between ``begin`` and ``end`` in ``path`` with ``text`` (which starts
    with ``begin`` and ends with ``end``), or add it just below KEEP_MARK; nothing else changes."""
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    if begin in current and end in current:
        start, stop = current.index(begin), current.index(end) + len(end)
        current = current[:start] + text.rstrip("\n") + current[stop:]
    else:
        if KEEP_MARK not in current:
            current = current.rstrip("\n") + ("\n\n" if current else "") + KEEP_MARK + "\n"
        at = current.index(KEEP_MARK) + len(KEEP_MARK)
        rest = current[at:].lstrip("\n")
        current = current[:at] + "\n\n" + text + ("\n" + rest if rest else "")
    path.write_text(current, encoding="utf-8")


def extract_gitrun(rev: str, into: Path) -> Path:
    """``gitrun/`` as of ``rev`` of this checkout (``git archive``), extracted under ``into`` with
    the data folders a source checkout finds beside it (``templates/``, ``site/``): a baseline a
    bench runs side by side with the checkout (``PYTHONPATH=into``)."""
    root = Path(__file__).resolve().parent.parent
    archive = subprocess.run(
        ["git", "archive", "--format=tar", rev, "gitrun", "templates", "site"], cwd=root, capture_output=True
    )
    if archive.returncode != 0:
        raise SystemExit(f"git archive {rev} failed: {archive.stderr.decode(errors='replace').strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into
