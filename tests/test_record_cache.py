"""The record cache (issue 16, item 1): a run committed once is parsed once, at any revision.

The proof that a cached run is not read from Git again removes the run's objects from the
repository: a reader that listed the run's tree or read one of its files would then miss it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from gitrun.errors import StoreWarning
from gitrun.search import index, record_cache
from gitrun.store import Store
from gitrun.vcs.revision import store_at
from tests.helpers import diffkit
from tests.helpers.diffkit import build_branched, commit, git, log

RUNS = [
    {"name": "a", "params": {"lr": 0.1}, "metrics": {"val_acc": [0.5, 0.7], "loss": 0.3}, "tags": {"k": "a"}},
    {"name": "b", "params": {"lr": 0.2}, "metrics": {"val_acc": 0.6}},
]


def runs_at(store: Store, rev: str) -> dict[str, dict[str, object]]:
    """Every run at ``rev`` as plain data (info, params, metrics, tags)."""
    out = {}
    for record in store_at(store, rev).iter_runs():
        run = store.to_run(record)
        out[record.run_id] = {
            "name": run.info.run_name,
            "status": run.info.status,
            "params": run.data.params,
            "metrics": run.data.metrics,
            "tags": run.data.tags,
        }
    return out


def cache_file(repo: Path) -> Path:
    return repo / ".gitrun" / ".cache" / record_cache.NAME


def loosen_objects(repo: Path) -> None:
    """Turn the repository's packs into loose objects, so single objects can be removed."""
    pack_dir = repo / ".git" / "objects" / "pack"
    for pack in sorted(pack_dir.glob("*.pack")):
        moved = repo / ".git" / pack.name
        shutil.move(pack, moved)
        for sibling in pack_dir.glob(pack.stem + ".*"):
            sibling.unlink()
        with open(moved, "rb") as f:
            subprocess.run(["git", "unpack-objects", "-q"], cwd=repo, stdin=f, check=True)
        moved.unlink()


def remove_run_objects(repo: Path, rev: str, run_path: str) -> None:
    """Delete the run directory's tree at ``rev`` and every object under it from the repository."""
    tree = git(repo, "rev-parse", f"{rev}:{run_path}").strip()
    listing = git(repo, "ls-tree", "-r", "-t", tree).splitlines()
    for sha in [tree, *(line.split()[2] for line in listing)]:
        (repo / ".git" / "objects" / sha[:2] / sha[2:]).unlink(missing_ok=True)
    assert subprocess.run(["git", "cat-file", "-e", tree], cwd=repo).returncode != 0


def test_a_run_read_once_is_not_read_from_git_again_at_another_revision(repo: Path) -> None:
    a, b = log(repo, RUNS)
    commit(repo, "C1")
    store = Store(repo / ".gitrun")
    first = runs_at(store, "HEAD")
    assert first[a]["metrics"] == {"val_acc": 0.7, "loss": 0.3} and cache_file(repo).is_file()
    (c,) = log(repo, [{"name": "c", "metrics": {"val_acc": 0.9}}])
    commit(repo, "C2")
    loosen_objects(repo)
    experiment_id = store.read_run(a).experiment_id
    remove_run_objects(repo, "HEAD", f".gitrun/experiments/{experiment_id}/runs/{a}")

    second = runs_at(store, "HEAD")  # a from the cache, c (never read) from Git
    assert second[a] == first[a] and second[b] == first[b]
    assert second[c]["metrics"] == {"val_acc": 0.9}

    cache_file(repo).unlink()  # without the cache the run cannot be read: its objects are gone
    with pytest.warns(StoreWarning, match=f"{a}/meta.json .*missing or unreadable"):
        third = runs_at(store, "HEAD")
    assert a not in third and third[c] == second[c]


def test_diffs_and_searches_read_the_same_with_the_cache_warm_cold_or_deleted(repo: Path) -> None:
    build_branched(repo)
    store = Store(repo / ".gitrun")
    cold = diffkit.diff(repo, "main", "feature").to_dict()
    cold_runs = runs_at(store, "main"), runs_at(store, "feature")
    assert cache_file(repo).is_file()
    assert diffkit.diff(repo, "main", "feature").to_dict() == cold
    assert (runs_at(store, "main"), runs_at(store, "feature")) == cold_runs
    cache_file(repo).unlink()
    assert diffkit.diff(repo, "main", "feature").to_dict() == cold
    assert cold["experiments"][0]["changed"], cold  # the diff saw the changed runs


def test_the_cache_is_never_committed(repo: Path) -> None:
    log(repo, RUNS)
    commit(repo, "C1")
    runs_at(Store(repo / ".gitrun"), "HEAD")
    assert cache_file(repo).is_file()
    assert git(repo, "check-ignore", str(cache_file(repo))).strip()
    log(repo, [{"name": "c"}])
    commit(repo, "C2")
    assert not [p for p in git(repo, "ls-files").splitlines() if ".cache" in p]


def test_a_damaged_cache_warns_and_is_rebuilt(repo: Path) -> None:
    log(repo, RUNS)
    commit(repo, "C1")
    store = Store(repo / ".gitrun")
    good = runs_at(store, "HEAD")
    path = cache_file(repo)
    data = path.read_bytes()
    path.write_bytes(data[:-40] + b"\0" * 40)  # same header, payload overwritten
    index.clear_memo()
    with pytest.warns(StoreWarning, match="cache .*records.bin is damaged"):
        assert runs_at(store, "HEAD") == good
    index.clear_memo()
    assert record_cache.RecordCache(path.parent).path.read_bytes().startswith(record_cache.MAGIC)
    assert len(record_cache.RecordCache(path.parent)) == 2  # rewritten whole


def test_a_cache_of_another_format_or_python_is_silently_rebuilt(repo: Path) -> None:
    log(repo, RUNS)
    commit(repo, "C1")
    store = Store(repo / ".gitrun")
    good = runs_at(store, "HEAD")
    path = cache_file(repo)
    header_end = path.read_bytes().index(b"\n", len(record_cache.MAGIC)) + 1
    path.write_bytes(record_cache.MAGIC + b"0 cpython-01 1 0:0\n" + path.read_bytes()[header_end:])
    index.clear_memo()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning: an old format is not damage
        assert runs_at(store, "HEAD") == good
    assert path.read_bytes().startswith(index._header(path, record_cache.MAGIC))


def test_a_run_whose_files_warn_warns_on_every_read(repo: Path) -> None:
    a, _ = log(repo, RUNS)
    store = Store(repo / ".gitrun")
    params = store.read_run(a).run_dir / "params.json"
    params.write_text('{"lr": ')
    commit(repo, "C1")
    for _ in range(2):
        with pytest.warns(StoreWarning, match="params.json .*cannot parse JSON"):
            runs = runs_at(store, "HEAD")
        assert runs[a]["params"] == {}


CONCURRENT = """
import json, sys
from gitrun.store import Store
from gitrun.vcs.revision import store_at
store = Store(".gitrun")
out = {}
for _ in range(5):
    for rev in sys.argv[1:]:
        out[rev] = sorted((r.run_id, r.metrics.get("val_acc")) for r in store_at(store, rev).iter_runs())
print(json.dumps(out))
"""


def test_concurrent_readers_and_writers_all_read_right(repo: Path) -> None:
    revs = []
    for i in range(4):
        log(repo, [{"name": f"r{i}-{j}", "metrics": {"val_acc": i + j / 10}} for j in range(5)])
        revs.append(commit(repo, f"C{i}"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT, *(revs[i:] + revs[:i])], cwd=repo, env=env, stdout=subprocess.PIPE
        )
        for i in range(4)
    ]
    results = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    expected = {rev: [list(t) for t in sorted(v)] for rev, v in results[0].items()}
    assert all(result == expected for result in results)
    assert [len(expected[rev]) for rev in revs] == [5, 10, 15, 20]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        index.clear_memo()
        assert len(record_cache.RecordCache(cache_file(repo).parent)) >= 5  # a whole, readable file


@pytest.mark.parametrize(("list_above", "chunk"), [(0, 5000), (10_000, 5000), (0, 2), (10_000, 2)])
def test_runs_the_cache_lacks_read_the_same_by_trees_or_by_one_listing(
    repo: Path, monkeypatch: pytest.MonkeyPatch, list_above: int, chunk: int
) -> None:
    """Whole or in chunks of ``chunk`` runs (the chunks of a listing end where a run's files do)."""
    from gitrun.vcs import revision

    a = log(repo, [*RUNS, {"name": "nested", "metrics": {"train/loss": [0.9, 0.4], "val_acc": 0.1}}])[0]
    diffkit.client(repo).log_metric(a, "val_acc", 0.99, step=5)  # a point after the run ended
    commit(repo, "C1")
    store = Store(repo / ".gitrun")
    expected = {r.run_id: store.to_run(r).data.metrics for r in store.iter_runs()}
    monkeypatch.setattr(revision, "LIST_ABOVE", list_above)
    monkeypatch.setattr(revision, "CHUNK", chunk)
    got = {r.run_id: store.to_run(r).data.metrics for r in store_at(store, "HEAD").iter_runs()}
    assert got == expected and got[a]["val_acc"] == 0.99
    assert {"train/loss": 0.4, "val_acc": 0.1} in got.values()


# -- the work tree: one stat per run (issue 16, items 1-2) -------------------------------------
def work_records(store: Store) -> dict[str, tuple[object, ...]]:
    return {r.run_id: (r.status, r.params, r.tags, r.metrics, r.run_name) for r in record_cache.iter_runs(store)}


def backdate(run_dir: Path, seconds: float = 60) -> None:
    """Make a run folder look settled (changed ``seconds`` ago), so the record cache may keep it."""
    st = run_dir.stat()
    os.utime(run_dir, ns=(st.st_atime_ns, st.st_mtime_ns - int(seconds * 1e9)))


def test_work_tree_records_are_the_readers_records(repo: Path) -> None:
    log(repo, RUNS)
    store = Store(repo / ".gitrun")
    for record in store.iter_runs():
        backdate(record.run_dir)
    expected = {r.run_id: (r.status, r.params, r.tags, r.metrics, r.run_name) for r in store.iter_runs()}
    assert work_records(store) == expected  # cold: read and cached
    index.clear_memo()
    assert work_records(store) == expected  # warm: from the cache


def test_a_settled_ended_run_is_taken_from_the_cache_without_reading_its_files(repo: Path) -> None:
    a, _ = log(repo, RUNS)
    store = Store(repo / ".gitrun")
    run_dir = store.read_run(a).run_dir
    backdate(run_dir)
    work_records(store)
    # An edit in place behind gitrun's back changes no folder's mtime: the cache answers (no file read).
    (run_dir / "params.json").write_text('{"lr": "changed behind gitrun"}')
    assert work_records(store)[a][1] == {"lr": "0.1"}
    os.utime(run_dir)  # what every gitrun write to an ended run does first
    assert work_records(store)[a][1] == {"lr": "changed behind gitrun"}


def test_one_pass_over_several_experiments_caches_them_all_and_an_early_stop_keeps_what_was_read(
    repo: Path,
) -> None:
    """The site reads every experiment in one ``iter_runs`` call (the cache loaded and saved once):
    every experiment's runs are cached by it, and a caller that stops after the first record still
    saves what was read. An edit in place behind gitrun's back is what proves a run came from the cache."""
    a, _ = log(repo, RUNS)
    (c,) = log(repo, RUNS[:1], experiment="other")
    store = Store(repo / ".gitrun")
    by_id = {r.run_id: r for r in store.iter_runs()}
    for record in by_id.values():
        backdate(record.run_dir)
    first = next(iter(record_cache.iter_runs(store)))  # the generator is dropped after one record
    index.clear_memo()
    (by_id[first.run_id].run_dir / "params.json").write_text('{"lr": "edited"}')
    assert work_records(store)[first.run_id][1] == {"lr": "0.1"}  # saved by the early stop
    index.clear_memo()
    for run_id in (a, c):
        (by_id[run_id].run_dir / "params.json").write_text('{"lr": "edited"}')
    got = work_records(store)
    assert got[a][1] == got[c][1] == {"lr": "0.1"}  # both experiments cached by one pass


@pytest.mark.parametrize("write", ["log_metric", "log_artifact", "set_tag"])
def test_any_write_to_an_ended_run_is_seen_by_the_next_read(repo: Path, tmp_path: Path, write: str) -> None:
    """MLflow's client may write to a FINISHED run; a series append or a new artifact changes no
    folder's mtime, so the write touches the run's folder."""
    a, _ = log(repo, RUNS)
    store = Store(repo / ".gitrun")
    run_dir = store.read_run(a).run_dir
    backdate(run_dir)
    before = run_dir.stat().st_mtime_ns
    assert work_records(store)[a][3]["val_acc"] == 0.7
    client = diffkit.client(repo)
    if write == "log_metric":
        client.log_metric(a, "val_acc", 0.99, step=9)
        assert work_records(store)[a][3]["val_acc"] == 0.99
    elif write == "log_artifact":
        (tmp_path / "note.txt").write_text("hello")
        client.log_artifact(a, str(tmp_path / "note.txt"))
    else:
        client.set_tag(a, "k", "new")
        assert work_records(store)[a][2]["k"] == "new"
    assert run_dir.stat().st_mtime_ns > before


def test_two_writes_in_one_file_time_tick_are_not_missed(repo: Path) -> None:
    """A folder changed in the last two seconds is not cached: a rewrite that leaves the folder's
    mtime as it was (two renames in one tick) is still read."""
    a, _ = log(repo, RUNS)
    store = Store(repo / ".gitrun")
    run_dir = store.read_run(a).run_dir
    mtime = run_dir.stat().st_mtime_ns  # just written: not settled
    assert work_records(store)[a][2]["k"] == "a"
    diffkit.client(repo).set_tag(a, "k", "same tick")
    os.utime(run_dir, ns=(mtime, mtime))  # as if both renames fell in one tick
    assert work_records(store)[a][2]["k"] == "same tick"


def test_a_running_run_is_read_from_its_files_every_time(repo: Path) -> None:
    import gitrun

    gitrun.set_tracking_uri(repo)
    with gitrun.start_run() as run:
        run_dir = Store(repo / ".gitrun").read_run(run.info.run_id).run_dir
        gitrun.log_metric("loss", 1.0, step=0)
        backdate(run_dir)
        store = Store(repo / ".gitrun")
        assert work_records(store)[run.info.run_id][3] == {"loss": 1.0}
        gitrun.log_metric("loss", 0.5, step=1)  # an append: no folder's mtime changes
        assert work_records(store)[run.info.run_id][3] == {"loss": 0.5}


NO_PANDAS = """
import sys
from gitrun.cli import main
from gitrun.site.builder import BuildOptions, read_snapshot
from gitrun.store import Store
read_snapshot(Store(".gitrun"), BuildOptions(output="_site", history=True))
sys.argv = ["gitrun", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    assert not exc.code, exc.code
assert "pandas" not in sys.modules, sys.argv
"""


@pytest.mark.parametrize(
    "args", [["runs", "list", "--json"], ["runs", "list", "--rev", "main", "--json"], ["diff", "main", "--json"]]
)
def test_listing_diffing_and_the_sites_data_never_import_pandas(repo: Path, args: list[str]) -> None:
    """Item 3: nobody asked for a DataFrame, so pandas (0.3 s to import) stays out."""
    log(repo, RUNS)
    commit(repo, "C1")
    log(repo, [{"name": "c", "metrics": {"val_acc": 0.9}}])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", NO_PANDAS, *args], cwd=repo, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_a_sha256_repository_reads_at_a_revision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tree objects hold 32-byte IDs there (gitrun.vcs.git.parse_tree)."""
    repo = tmp_path / "sha256"
    git(tmp_path, "init", "-q", "--object-format=sha256", "-b", "main", str(repo))
    monkeypatch.chdir(repo)
    a, _ = log(repo, RUNS)
    git(repo, "add", "-f", ".gitrun")
    git(repo, "commit", "-q", "-m", "C1")
    runs = runs_at(Store(repo / ".gitrun"), "HEAD")
    assert runs[a]["metrics"] == {"val_acc": 0.7, "loss": 0.3} and runs[a]["params"] == {"lr": "0.1"}


def test_briefs_are_the_records_reduced_cold_or_warm(repo: Path) -> None:
    """A revision's briefs (what ranking reads) equal its records' whether read from Git or the cache."""
    log(repo, [*RUNS, {"name": "", "tags": {"mlflow.runName": "by tag"}, "metrics": {"x": float("inf")}}])
    commit(repo, "C1")
    store = Store(repo / ".gitrun")
    view = store_at(store, "HEAD")
    ids = sorted(view.run_trees)
    cold = view.briefs([*ids, "no-such-run"])
    index.clear_memo()
    warm = store_at(store, "HEAD").briefs(ids)
    expected = [record_cache.RunBrief.of(r) for r in store_at(store, "HEAD").read_runs(ids)]
    assert cold == warm == expected and len(expected) == 3
    assert {b.run_name for b in expected} == {"a", "b", "by tag"} and all(b.end_time for b in expected)


def test_each_reader_loads_only_its_own_file(repo: Path) -> None:
    """Committed runs (records.bin) and the work tree's (work-records.bin) live apart: reading the
    work tree, or opening a revision, never loads the committed entries (a damaged records.bin is
    not even noticed), and a revision's reads never load the work tree's."""
    log(repo, RUNS)
    commit(repo, "C1")
    store = Store(repo / ".gitrun")
    for record in store.iter_runs():
        backdate(record.run_dir)
    assert len(list(store_at(store, "HEAD").iter_runs())) == 2 and cache_file(repo).is_file()
    work_file = cache_file(repo).with_name(record_cache.WORK_NAME)
    cache_file(repo).write_bytes(b"not a cache")
    index.clear_memo()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(list(record_cache.iter_runs(store))) == 2  # cached in work-records.bin
        assert work_file.is_file() and len(store_at(store, "HEAD").run_trees) == 2
    work_file.write_bytes(b"not a cache either")
    cache_file(repo).unlink()
    index.clear_memo()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(list(store_at(store, "HEAD").iter_runs())) == 2


def test_a_cache_file_from_before_the_split_is_read_without_a_warning(repo: Path) -> None:
    """records.bin once held the work tree's part under the key "work": its committed entries are
    still used, that part is ignored (the work tree's file is rebuilt) and dropped on the next save."""
    log(repo, RUNS)
    commit(repo, "C1")
    store = Store(repo / ".gitrun")
    records = list(store_at(store, "HEAD").iter_runs())
    entries = dict(index.load_file(cache_file(repo), record_cache.MAGIC, lambda _: True))
    assert len(entries) == 2
    index.save(
        cache_file(repo), {**entries, record_cache.WORK: {"/some/run": ((1, 2), ({}, {}, {}, ()))}}, record_cache.MAGIC
    )
    index.clear_memo()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cache = record_cache.RecordCache(cache_file(repo).parent)
        assert len(cache) == 2 and cache.get(record_cache.WORK, records[0].run_dir, "x") is None
        view = store_at(store, "HEAD")
        assert [r.params for r in view.iter_runs()] == [r.params for r in records]
        cache.put("0" * 40, records[0])
        cache.save()
    assert record_cache.WORK not in index.load_file(cache_file(repo), record_cache.MAGIC, lambda _: True)
