"""The on-disk format v1: which files exist, what they hold, byte for byte where it matters."""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import warnings
from pathlib import Path

import pytest
import yaml

import gitrun
from gitrun.errors import GitrunError, StoreFormatError, StoreWarning
from gitrun.store import Store
from tests.helpers import gitrun_cli, run_git, run_python


def _run_dir(store_dir: Path, run_id: str, experiment_id: str = "default") -> Path:
    return store_dir / "experiments" / experiment_id / "runs" / run_id


def _canonical(text: str) -> str:
    return json.dumps(json.loads(text), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def test_layout_files_created(repo: Path, store_dir: Path) -> None:
    with gitrun.start_run(run_name="layout") as run:
        gitrun.log_param("lr", 0.1)
        gitrun.set_tag("team", "vision")
        gitrun.log_metric("loss", 0.5, step=1)
        gitrun.log_text("hello", "notes/readme.txt")
    run_dir = _run_dir(store_dir, run.info.run_id)

    assert (store_dir / "store.yaml").is_file()
    assert (store_dir / ".gitignore").is_file()
    assert (store_dir / "experiments" / "default" / "experiment.yaml").is_file()
    for name in (
        "meta.json",
        "params.json",
        "tags.json",
        "metrics.json",
        "metrics/loss.tsv",
        "artifacts/notes/readme.txt",
    ):
        assert (run_dir / name).is_file(), name
    assert (run_dir / "artifacts").is_dir()
    # The run ID is a ULID: 26 Crockford base-32 characters, and the run directory is named by it.
    assert len(run.info.run_id) == 26
    assert set(run.info.run_id) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["run_id"] == run.info.run_id
    assert meta["run_name"] == "layout"
    assert meta["status"] == "FINISHED"
    assert isinstance(meta["start_time"], int) and isinstance(meta["end_time"], int)
    assert meta["end_time"] >= meta["start_time"]


def test_store_yaml_declares_format_version(repo: Path, store_dir: Path) -> None:
    gitrun.set_experiment("versions")
    data = yaml.safe_load((store_dir / "store.yaml").read_text())
    assert data == {"format_version": "1.0"}


def test_newer_major_version_is_refused_naming_the_file(repo: Path, store_dir: Path) -> None:
    with gitrun.start_run() as run:
        gitrun.log_metric("x", 1.0)
    store_yaml = store_dir / "store.yaml"
    store_yaml.write_text("format_version: '2.0'\n")

    with pytest.raises(StoreFormatError) as excinfo:
        Store(store_dir).list_experiments()
    message = str(excinfo.value)
    assert str(store_yaml) in message
    assert "2.0" in message
    assert "upgrade" in message

    with pytest.raises(StoreFormatError, match="newer"):
        gitrun.Client(store_dir).get_run(run.info.run_id)
    with pytest.raises(StoreFormatError, match="newer"):
        gitrun.Client(store_dir).create_experiment("refused")

    result = gitrun_cli("runs", "list", cwd=repo)
    assert result.returncode == 1
    assert str(store_yaml) in result.stderr
    assert "Traceback" not in result.stderr


def test_newer_minor_version_still_reads(repo: Path, store_dir: Path) -> None:
    with gitrun.start_run() as run:
        gitrun.log_metric("x", 1.0)
    (store_dir / "store.yaml").write_text("format_version: '1.7'\n")
    assert gitrun.Client(store_dir).get_run(run.info.run_id).data.metrics == {"x": 1.0}


def test_json_files_are_canonical_with_sorted_keys(repo: Path, store_dir: Path) -> None:
    with gitrun.start_run(tags={"zeta": "1", "alpha": "2"}) as run:
        gitrun.log_params({"zz": 1, "aa": "x", "mm": 0.30000000000000004})
        gitrun.set_tags({"yy": "ü", "bb": "b"})
        gitrun.log_metrics({"z_metric": 1.0, "a_metric": float("nan"), "m_metric": float("-inf")})
    run_dir = _run_dir(store_dir, run.info.run_id)
    for name in ("meta.json", "params.json", "tags.json", "metrics.json"):
        text = (run_dir / name).read_text(encoding="utf-8")
        assert text == _canonical(text), name
        keys = list(json.loads(text))
        assert keys == sorted(keys), name
    assert '"ü"' in (run_dir / "tags.json").read_text(encoding="utf-8")  # UTF-8 kept, not \u-escaped
    params = json.loads((run_dir / "params.json").read_text())
    assert params == {"aa": "x", "mm": "0.30000000000000004", "zz": "1"}
    summary = json.loads((run_dir / "metrics.json").read_text())
    assert summary["a_metric"]["latest"] == "NaN"
    assert summary["m_metric"]["latest"] == "-Infinity"
    # Strict JSON: no bare NaN/Infinity literals anywhere.
    json.loads((run_dir / "metrics.json").read_text(), parse_constant=_reject_constant)


def _reject_constant(name: str) -> None:
    raise AssertionError(f"non-standard JSON constant {name}")


def test_series_file_has_header_and_one_line_per_point(repo: Path, store_dir: Path) -> None:
    with gitrun.start_run() as run:
        gitrun.log_metric("loss", 0.5, step=0, timestamp=1_700_000_000_000)
        gitrun.log_metric("loss", 0.1 + 0.2, step=1, timestamp=1_700_000_000_001)
        gitrun.log_metric("loss", float("nan"), step=2, timestamp=1_700_000_000_002)
        gitrun.log_metric("loss", float("inf"), step=-3, timestamp=1_700_000_000_003)
        gitrun.log_metric("loss", 7, step=4, timestamp=1_700_000_000_004)
    text = (_run_dir(store_dir, run.info.run_id) / "metrics" / "loss.tsv").read_text()
    assert text == (
        "step\ttimestamp\tloss\n"
        "0\t1700000000000\t0.5\n"
        "1\t1700000000001\t0.30000000000000004\n"
        "2\t1700000000002\tnan\n"
        "-3\t1700000000003\tinf\n"
        "4\t1700000000004\t7.0\n"
    )


def test_slash_in_metric_key_makes_a_subfolder(repo: Path, store_dir: Path) -> None:
    with gitrun.start_run() as run:
        gitrun.log_metric("train/loss", 1.0, step=0)
        gitrun.log_metric("train/deep/acc", 0.5, step=0)
        gitrun.log_metric("train", 3.0, step=0)
    metrics_dir = _run_dir(store_dir, run.info.run_id) / "metrics"
    assert (metrics_dir / "train" / "loss.tsv").is_file()
    assert (metrics_dir / "train" / "deep" / "acc.tsv").is_file()
    assert (metrics_dir / "train.tsv").is_file()
    assert (metrics_dir / "train" / "loss.tsv").read_text().splitlines()[0] == "step\ttimestamp\tloss"
    got = gitrun.get_run(run.info.run_id).data.metrics
    assert got == {"train/loss": 1.0, "train/deep/acc": 0.5, "train": 3.0}
    history = gitrun.Client().get_metric_history(run.info.run_id, "train/deep/acc")
    assert [(m.key, m.value, m.step) for m in history] == [("train/deep/acc", 0.5, 0)]


def test_summary_metrics_json_written_at_end_run(repo: Path, store_dir: Path) -> None:
    run = gitrun.start_run()
    run_dir = _run_dir(store_dir, run.info.run_id)
    for step, value in enumerate([3.0, 1.0, 2.0]):
        gitrun.log_metric("loss", value, step=step, timestamp=1000 + step)
    assert not (run_dir / "metrics.json").exists()  # nothing rewritten on the logging path
    gitrun.end_run()
    summary = json.loads((run_dir / "metrics.json").read_text())
    series = run_dir / "metrics" / "loss.tsv"
    assert summary == {
        "loss": {
            "bytes": series.stat().st_size,
            "count": 3,
            "latest": 2.0,
            "max": 3.0,
            "min": 1.0,
            "step": 2,
            "timestamp": 1002,
        }
    }


def test_reader_recomputes_summary_when_series_grew_by_hand(repo: Path, store_dir: Path) -> None:
    with gitrun.start_run() as run:
        gitrun.log_metric("loss", 1.0, step=0, timestamp=1000)
        gitrun.log_metric("loss", 0.5, step=1, timestamp=1001)
    run_dir = _run_dir(store_dir, run.info.run_id)
    summary_before = (run_dir / "metrics.json").read_bytes()
    assert gitrun.get_run(run.info.run_id).data.metrics == {"loss": 0.5}

    with open(run_dir / "metrics" / "loss.tsv", "a") as f:
        f.write("5\t1005\t0.125\n6\t1006\t-2.0\n")

    record = Store(store_dir).read_run(run.info.run_id)
    assert record.metrics == {"loss": -2.0}
    assert record.summaries["loss"].count == 4
    assert record.summaries["loss"].min == -2.0
    assert record.summaries["loss"].max == 1.0
    assert record.summaries["loss"].step == 6
    assert gitrun.get_run(run.info.run_id).data.metrics == {"loss": -2.0}
    assert (run_dir / "metrics.json").read_bytes() == summary_before  # readers never write


def test_reader_recomputes_summary_after_resumed_run_logs_more(repo: Path, store_dir: Path) -> None:
    with gitrun.start_run() as run:
        gitrun.log_metric("acc", 0.5, step=0)
    run_id = run.info.run_id
    with gitrun.start_run(run_id=run_id):
        gitrun.log_metric("acc", 0.9, step=1)
        gitrun.log_metric("new_metric", 3.0, step=0)
        # metrics.json still holds the first summary; the reader must see the newer series.
        assert gitrun.get_run(run_id).data.metrics == {"acc": 0.9, "new_metric": 3.0}
    summary = json.loads((_run_dir(store_dir, run_id) / "metrics.json").read_text())
    assert summary["acc"]["count"] == 2
    assert summary["acc"]["latest"] == 0.9
    assert summary["new_metric"]["latest"] == 3.0


def test_summary_of_all_nan_series(repo: Path, store_dir: Path) -> None:
    with gitrun.start_run() as run:
        gitrun.log_metric("broken", float("nan"), step=0)
    summary = json.loads((_run_dir(store_dir, run.info.run_id) / "metrics.json").read_text())
    assert summary["broken"]["latest"] == summary["broken"]["min"] == summary["broken"]["max"] == "NaN"
    assert math.isnan(gitrun.get_run(run.info.run_id).data.metrics["broken"])


def test_experiment_yaml_is_deterministic_across_stores(tmp_path: Path) -> None:
    first = gitrun.Client(tmp_path / "a" / ".gitrun")
    second = gitrun.Client(tmp_path / "b" / ".gitrun")
    id_a = first.create_experiment(
        "Churn Model v2",
        tags={"owner": "ana", "area": "growth"},
        primary_metric="val_auc",
        directions={"val_loss": "min", "val_auc": "max"},
    )
    id_b = second.create_experiment(
        "Churn Model v2",
        tags={"area": "growth", "owner": "ana"},
        directions={"val_auc": "max", "val_loss": "min"},
        primary_metric="val_auc",
    )
    assert id_a == id_b == "churn-model-v2-3f0e20"
    for rel in ("store.yaml", ".gitignore", "experiments/churn-model-v2-3f0e20/experiment.yaml"):
        assert (tmp_path / "a" / ".gitrun" / rel).read_bytes() == (tmp_path / "b" / ".gitrun" / rel).read_bytes(), rel
    text = (tmp_path / "a" / ".gitrun" / "experiments" / "churn-model-v2-3f0e20" / "experiment.yaml").read_text()
    data = yaml.safe_load(text)
    assert data == {
        "name": "Churn Model v2",
        "primary_metric": "val_auc",
        "directions": {"val_auc": "max", "val_loss": "min"},
        "tags": {"area": "growth", "owner": "ana"},
    }
    top_keys = [line.split(":")[0] for line in text.splitlines() if line and not line.startswith((" ", "#"))]
    assert top_keys == sorted(top_keys)


def test_setting_the_same_experiment_settings_again_does_not_rewrite(repo: Path, store_dir: Path) -> None:
    gitrun.set_experiment("stable", primary_metric="acc", directions={"acc": "max"})
    path = store_dir / "experiments" / "stable" / "experiment.yaml"
    before = path.stat().st_mtime_ns, path.stat().st_ino
    gitrun.set_experiment("stable", primary_metric="acc", directions={"acc": "max"})
    assert (path.stat().st_mtime_ns, path.stat().st_ino) == before


def test_init_gitignore_hides_local_only_files(repo: Path, store_dir: Path) -> None:
    result = gitrun_cli("init", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert "Initialized gitrun store in" in result.stdout
    assert (store_dir / ".gitignore").read_text().startswith("# Written by gitrun")

    # A real run leaves a lock file; add the other local-only kinds by hand.
    code = "import gitrun\nwith gitrun.start_run() as r:\n    gitrun.log_param('a', 1)\nprint(r.info.run_id)\n"
    proc = run_python(code, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    run_dir = _run_dir(store_dir, proc.stdout.strip())
    assert (run_dir / ".lock").exists()
    (run_dir / ".heartbeat-somehost-12345").write_text("")
    (run_dir / ".heartbeat-outcomes").write_text("somehost-12345\tFINISHED\t1\n")
    (store_dir / ".cache").mkdir()
    (store_dir / ".cache" / "index.sqlite").write_text("x")
    (run_dir / ".params.json.999.abcd1234.tmp").write_text("{")

    status = run_git(repo, "status", "--porcelain", "--ignored", "--untracked-files=all").stdout.splitlines()
    ignored = [line[3:] for line in status if line.startswith("!! ")]
    untracked = [line[3:] for line in status if line.startswith("?? ")]

    def is_ignored(path: Path) -> bool:
        rel = path.relative_to(repo).as_posix()
        return any(rel == entry.rstrip("/") or rel.startswith(entry) for entry in ignored if entry)

    for local in (
        run_dir / ".lock",
        run_dir / ".heartbeat-somehost-12345",
        run_dir / ".heartbeat-outcomes",
        store_dir / ".cache" / "index.sqlite",
        run_dir / ".params.json.999.abcd1234.tmp",
    ):
        assert is_ignored(local), (local, status)
    for kept in (store_dir / "store.yaml", store_dir / ".gitignore", run_dir / "meta.json", run_dir / "params.json"):
        assert kept.relative_to(repo).as_posix() in untracked, (kept, status)
        assert not is_ignored(kept)


def test_init_twice_is_idempotent(repo: Path, store_dir: Path) -> None:
    assert gitrun_cli("init", cwd=repo).returncode == 0
    before = {p: p.read_bytes() for p in store_dir.rglob("*") if p.is_file()}
    second = gitrun_cli("init", cwd=repo)
    assert second.returncode == 0
    assert "already exists" in second.stdout
    assert {p: p.read_bytes() for p in store_dir.rglob("*") if p.is_file()} == before


RUN = "experiments/exp/runs/01JD5Z3F6XQ4N8V2K7C9B1M0TA"
LOCAL_ONLY = [
    ".cache/search-index.bin",
    ".cache/revs/abc/experiments/exp/experiment.yaml",
    f"{RUN}/.lock",
    f"{RUN}/.heartbeat-ws-17-5420",
    f"{RUN}/.gitrun-tmp.params.json.77.abcd1234.tmp",
    f"{RUN}/metrics/.gitrun-tmp.loss.tsv.77.abcd1234.tmp",
    f"{RUN}/artifacts/out/.gitrun-tmp.plot.png.77.abcd1234.tmp.png",
    f"{RUN}/full_values/params/.gitrun-tmp.big.txt.77.abcd1234.tmp",
    "experiments/exp/.gitrun-tmp.experiment.yaml.77.abcd1234.tmp",
    ".gitrun-tmp.store.yaml.77.abcd1234.tmp",
    f"{RUN}/.params.json.77.abcd1234.tmp",  # gitrun 0.1's temp names, where only gitrun writes
    "experiments/exp/.experiment.yaml.77.abcd1234.tmp",
    ".DS_Store",
    "experiments/exp/runs/.DS_Store",
    f"{RUN}/.DS_Store",
]
COMMITTED = [
    "store.yaml",
    ".gitignore",
    "experiments/exp/experiment.yaml",
    f"{RUN}/meta.json",
    f"{RUN}/metrics/loss.tsv",
    f"{RUN}/metrics/.DS_Store/a.tsv",  # metric key ".DS_Store/a"
    f"{RUN}/metrics/.x.tmp/b.tsv",
    f"{RUN}/metrics/.lock.tsv",
    f"{RUN}/artifacts/poetry.lock",
    f"{RUN}/artifacts/.lock",
    f"{RUN}/artifacts/.heartbeat-notes",
    f"{RUN}/artifacts/.DS_Store",
    f"{RUN}/artifacts/x.tmp",
    f"{RUN}/artifacts/.x.tmp",
    f"{RUN}/artifacts/.cache/weights.bin",
    f"{RUN}/artifacts/deep/er/.DS_Store",
    f"{RUN}/artifacts/out/ckpt/.gitignore",
    f"{RUN}/artifacts/model.pkl.dvc",
    f"{RUN}/full_values/tags/.DS_Store/x.txt",
    f"{RUN}/code.diff",
]


def test_gitignore_covers_gitrun_files_only_and_local_only_states_the_same_rules(repo: Path) -> None:
    """The store's ignore rules are anchored where gitrun writes: no artifact, metric or full
    value can match them. ``local_only`` (what ``gitrun commit`` uses) agrees with Git on each path."""
    from gitrun.store.layout import GITIGNORE, local_only

    store = repo / ".gitrun"
    store.mkdir()
    (store / ".gitignore").write_text(GITIGNORE)
    (repo / ".gitignore").write_text("*.lock\n.DS_Store\n*.tmp\n.cache/\nartifacts/\n")  # the project's own rules
    paths = LOCAL_ONLY + COMMITTED
    proc = subprocess.run(
        ["git", "check-ignore", "--no-index", "--stdin", "-z", "-v", "-n"],
        cwd=repo,
        input="".join(f".gitrun/{p}\0" for p in paths),
        capture_output=True,
        text=True,
    )
    fields = proc.stdout.split("\0")
    # -v -n: source, line, pattern, path for each path; an empty source means "not ignored"
    # (a matching negation such as `!*` also reports its pattern: a '!' means not ignored).
    records = [fields[i : i + 4] for i in range(0, len(fields) - 1, 4)]
    git_ignored = {
        path[len(".gitrun/") :]: bool(source) and not pattern.startswith("!") for source, _, pattern, path in records
    }
    assert set(git_ignored) == set(paths), proc.stderr
    for path in LOCAL_ONLY:
        assert git_ignored[path] and local_only(path), path
    for path in COMMITTED:
        assert not git_ignored[path] and not local_only(path), path


# -- experiment IDs (issue 9, item 18) ---------------------------------------------------------
LONG_NAME = "Sweep over learning rates and batch sizes for the big transformer model"
EXPECTED_IDS = {
    "iris-sgd": "iris-sgd",  # a name that is its own slug keeps it
    "Churn Model": "churn-model-97779c",  # any other name: <slug>-<sha1(name)[:6]>
    "churn-model": "churn-model",
    "Churn  model": "churn-model-2f0784",
    "学习": "experiment-aa89dd",  # nothing left of the slug
    "Default": "default",  # the default experiment
    "default": "default-7505d6",  # reserved IDs go to no other name
    "0": "0-b6589f",
    LONG_NAME: "sweep-over-learning-rates-and-batch-sizes-for-the-big-transforme-3f6c7e",
}


def test_experiment_ids_are_a_function_of_the_exact_name(tmp_path: Path) -> None:
    forward, backward = Store(tmp_path / "a"), Store(tmp_path / "b")
    names = list(EXPECTED_IDS)
    got = {name: forward.create_experiment(name) for name in names}
    assert got == EXPECTED_IDS
    # The order of creation changes nothing: the ID depends on the name alone.
    assert {name: backward.create_experiment(name) for name in reversed(names)} == EXPECTED_IDS
    for name, experiment_id in EXPECTED_IDS.items():
        found = forward.get_experiment_by_name(name)
        assert found is not None and found.experiment_id == experiment_id and found.name == name


def test_an_id_held_by_another_name_is_a_clear_error(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    assert store.create_experiment("churn-model-97779c") == "churn-model-97779c"  # "Churn Model"'s ID, as a name
    with pytest.raises(GitrunError) as caught:
        store.create_experiment("Churn Model")
    message = str(caught.value)
    assert "'Churn Model'" in message and "churn-model-97779c ('churn-model-97779c')" in message
    assert "Choose another name" in message
    assert [e.name for e in store.list_experiments()] == ["churn-model-97779c"]


def _log_into(experiment: str, run_name: str) -> str:
    gitrun.set_experiment(experiment, primary_metric="auc")
    with gitrun.start_run(run_name=run_name) as run:
        gitrun.log_metric("auc", 0.5)
    return run.info.run_id


def test_same_slug_experiments_on_two_branches_merge_without_conflict(repo: Path, store_dir: Path) -> None:
    shared = _log_into("shared", "base")
    run_git(repo, "add", ".gitrun")
    run_git(repo, "commit", "-qm", "base")
    run_git(repo, "checkout", "-qb", "feature")
    spaced = _log_into("Churn Model", "spaced")
    again = _log_into("shared", "feature-shared")  # the same experiment on both branches: one folder
    run_git(repo, "add", ".gitrun")
    run_git(repo, "commit", "-qm", "Churn Model")
    run_git(repo, "checkout", "-q", "main")
    gitrun.set_tracking_uri(repo)  # forget what this process knows of the other branch
    dashed = _log_into("churn-model", "dashed")
    again_main = _log_into("shared", "main-shared")
    run_git(repo, "add", ".gitrun")
    run_git(repo, "commit", "-qm", "churn-model")

    merge = run_git(repo, "merge", "--no-ff", "-m", "merge feature", "feature", check=False)
    assert merge.returncode == 0 and "CONFLICT" not in merge.stdout, merge.stdout + merge.stderr
    assert run_git(repo, "status", "--porcelain").stdout == ""

    with warnings.catch_warnings():
        warnings.simplefilter("error", StoreWarning)
        store = Store(store_dir)
        by_name = {e.name: e.experiment_id for e in store.list_experiments()}
        assert by_name == {"Churn Model": "churn-model-97779c", "churn-model": "churn-model", "shared": "shared"}
        runs = {e: sorted(r.run_id for r in store.iter_runs([e])) for e in by_name.values()}
    assert runs == {
        "churn-model-97779c": [spaced],
        "churn-model": [dashed],
        "shared": sorted([shared, again, again_main]),
    }


FIXTURE_0_1 = Path(__file__).parent / "fixtures" / "store-0.1-slugs"
IDS_0_1 = {  # as gitrun 0.1 named the folders (tests/fixtures/make_store_0_1_slugs.py)
    "iris-sgd": "iris-sgd",
    "Churn Model": "churn-model",
    "churn-model": "churn-model-56ddc9",  # created second: gitrun 0.1 added the hash on a clash
    "学习": "experiment-aa89dd",
    "Digits (v2)": "digits-v2",
    LONG_NAME: "sweep-over-learning-rates-and-batch-sizes-for-the-big-transforme",
    "Default": "default",
}


def test_a_store_written_by_gitrun_0_1_keeps_its_experiment_ids(repo: Path, store_dir: Path) -> None:
    import shutil

    shutil.copytree(FIXTURE_0_1, store_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("error", StoreWarning)
        store = Store(store_dir)
        assert {e.name: e.experiment_id for e in store.list_experiments()} == IDS_0_1
        runs = {exp_id: [r.run_name for r in store.iter_runs([exp_id])] for exp_id in IDS_0_1.values()}
    assert runs["iris-sgd"] == ["sgd-a", "sgd-b"] and runs["churn-model"] == ["churn-first"]
    assert runs["churn-model-56ddc9"] == ["churn-second"] and runs["default"] == ["in-default"]
    assert all(runs.values())
    for name, old_id in IDS_0_1.items():
        found = gitrun.get_experiment_by_name(name)
        assert found is not None and found.experiment_id == old_id, name
        assert gitrun.get_run(next(store.iter_runs([old_id])).run_id).data.params.get("experiment", name) == name
    # Selecting an old experiment by name logs into its old folder; nothing is created beside it.
    for name in ("Churn Model", "churn-model", "Digits (v2)", "学习", LONG_NAME):
        new_run = _log_into(name, f"new in {name}")
        assert gitrun.get_run(new_run).info.experiment_id == IDS_0_1[name]
        assert (store_dir / "experiments" / IDS_0_1[name] / "runs" / new_run / "meta.json").is_file()
    assert sorted(p.name for p in (store_dir / "experiments").iterdir()) == sorted(IDS_0_1.values())
    # New names get today's IDs; one whose own slug an old folder of another name holds gets the hash.
    assert gitrun.create_experiment("Iris SGD") == "iris-sgd-74833d"
    assert gitrun.create_experiment("digits-v2") == "digits-v2-" + hashlib.sha1(b"digits-v2").hexdigest()[:6]
    listed = gitrun_cli("runs", "list", "--json", "--experiment", "Churn Model", cwd=repo)
    assert listed.returncode == 0, listed.stderr
    assert sorted(r["run_name"] for r in json.loads(listed.stdout)) == ["churn-first", "new in Churn Model"]
