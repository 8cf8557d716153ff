"""The search index in .gitrun/.cache/: same answers as the files, whatever happens to them.

Parts of files changed in the last two seconds are never cached (see gitrun.search.index), so
tests that want the index to hold a store first "age" it: every file's mtime is set a minute
back, as if the runs had been logged earlier.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gitrun
from gitrun.entities import ViewType
from gitrun.errors import StoreFormatError, StoreWarning
from gitrun.search import index as search_index
from gitrun.search.api import search_run_records
from gitrun.store import Store
from tests.helpers import ROOT

EXP = "exp"


def _age(root: Path, seconds: float = 60) -> None:
    """Set every file's and directory's mtime ``seconds`` back."""
    past = time.time() - seconds
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + dirnames:
            os.utime(os.path.join(dirpath, name), (past, past))
        os.utime(dirpath, (past, past))


def _by_hand(path: Path) -> None:
    """After editing a file of a run by hand: touch the run's folder, which is what the index checks
    for a run that has ended (one ``stat`` per run), as gitrun's own writes to an ended run do."""
    run_dir = next(p for p in path.parents if p.parent.name == "runs")
    os.utime(run_dir)


def _index_file(root: Path) -> Path:
    return root / ".cache" / search_index.INDEX_NAME


def _search(
    root: Path,
    filter_string: str = "",
    order_by: list[str] | None = None,
    *,
    use_index: bool,
    view: int = ViewType.ACTIVE_ONLY,
    strict: bool = False,
) -> list[dict[str, Any]]:
    """Search a fresh Store (and a fresh process's view of the index) and flatten the answer."""
    search_index.clear_memo()
    store = Store(root, strict=strict)
    records = search_run_records(store, None, filter_string, view, None, order_by, use_index=use_index)
    return [_flat(store, r) for r in records]


def _flat(store: Store, record: Any) -> dict[str, Any]:
    run = store.to_run(record)
    summaries = {
        k: (_nan(s.latest), _nan(s.min), _nan(s.max), s.step, s.timestamp, s.count) for k, s in record.summaries.items()
    }
    return {
        "info": run.info,
        "params": run.data.params,
        "tags": run.data.tags,
        "summaries": summaries,
        "meta": record.meta,
    }


def _nan(x: float) -> Any:
    return "nan" if math.isnan(x) else x


def _both_ways(
    root: Path, filter_string: str = "", order_by: list[str] | None = None, view: int = ViewType.ACTIVE_ONLY
) -> list[dict[str, Any]]:
    """The answer without the index, asserting the index (built, then reused) gives the same."""
    plain = _search(root, filter_string, order_by, use_index=False, view=view)
    assert _search(root, filter_string, order_by, use_index=True, view=view) == plain
    assert _search(root, filter_string, order_by, use_index=True, view=view) == plain
    return plain


def _names(found: list[dict[str, Any]]) -> list[str]:
    return [f["info"].run_name for f in found]


# -- a small store logged through the API ---------------------------------------------------
@pytest.fixture
def small(tmp_path: Path) -> tuple[Path, gitrun.Client, dict[str, str]]:
    root = tmp_path / ".gitrun"
    client = gitrun.Client(root)
    exp = client.create_experiment(EXP)
    ids = {}
    for i, name in enumerate(["a", "b", "c", "d"]):
        run = client.create_run(exp, start_time=1000 * (i + 1), run_name=name)
        rid = run.info.run_id
        client.log_param(rid, "lr", f"0.{i + 1}")
        client.set_tag(rid, "team", "x" if i % 2 else "y")
        for step in range(3):
            client.log_metric(rid, "acc", 0.1 * i + step / 100, timestamp=5000 + step, step=step)
        client.log_metric(rid, "loss/train", 1.0 / (i + 1), timestamp=5000)
        client.set_terminated(rid, "FINISHED", end_time=1000 * (i + 1) + 500)
        ids[name] = rid
    _age(root)
    return root, client, ids


def _run_dir(root: Path, run_id: str) -> Path:
    return root / "experiments" / EXP / "runs" / run_id


def test_index_is_written_once_and_reused(small: tuple[Path, gitrun.Client, dict[str, str]]) -> None:
    root, _, _ = small
    found = _both_ways(root, "metrics.acc > 0.15", ["metrics.acc DESC"])
    assert _names(found) == ["d", "c"]
    path = _index_file(root)
    assert path.is_file()
    before = path.stat().st_mtime_ns, path.stat().st_ino
    _search(root, "metrics.acc > 0.15", ["metrics.acc DESC"], use_index=True)
    assert (path.stat().st_mtime_ns, path.stat().st_ino) == before  # nothing new to cache: not rewritten
    # the index never holds a status of RUNNING, and the file is marshal behind a checked header
    assert path.read_bytes().startswith(search_index.MAGIC)


def test_no_index_env_and_parameter(
    small: tuple[Path, gitrun.Client, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _, _ = small
    monkeypatch.setenv("GITRUN_NO_INDEX", "1")
    search_run_records(Store(root), None, "metrics.acc > 0")
    assert not _index_file(root).exists()
    monkeypatch.setenv("GITRUN_NO_INDEX", "0")
    search_run_records(Store(root), None, "metrics.acc > 0", use_index=False)
    assert not _index_file(root).exists()
    search_run_records(Store(root), None, "metrics.acc > 0")
    assert _index_file(root).exists()


def test_edits_are_seen(small: tuple[Path, gitrun.Client, dict[str, str]]) -> None:
    root, client, ids = small
    _both_ways(root, "params.lr = '0.2'")  # index warm for params, metrics, everything returned
    _both_ways(root)
    # 1. edit params.json in place, keeping its size (only the folder's mtime tells)
    params = _run_dir(root, ids["b"]) / "params.json"
    text = params.read_text()
    params.write_text(text.replace('"0.2"', '"0.9"'))
    _by_hand(params)
    assert len(params.read_text()) == len(text)
    assert _names(_both_ways(root, "params.lr = '0.9'")) == ["b"]
    assert _names(_both_ways(root, "params.lr = '0.2'")) == []
    # 2. a point appended to a series of a finished run, as MLflow's client allows (no rename:
    # the store touches the folder first)
    client.log_metric(ids["a"], "acc", 0.99, timestamp=6000, step=10)
    found = _both_ways(root, "metrics.acc > 0.5")
    assert _names(found) == ["a"] and found[0]["summaries"]["acc"][:2] == (0.99, 0.0)
    # 3. delete a run directory
    shutil.rmtree(_run_dir(root, ids["c"]))
    assert _names(_both_ways(root)) == ["d", "b", "a"]
    # 4. add a run directory (a copy of another run, under a new ID)
    new_id = "01ZZZZZZZZZZZZZZZZZZZZZZZZ"
    shutil.copytree(_run_dir(root, ids["d"]), _run_dir(root, new_id))
    meta_path = _run_dir(root, new_id) / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta.update(run_id=new_id, run_name="copy", start_time=9000)
    meta_path.write_text(json.dumps(meta))
    assert _names(_both_ways(root)) == ["copy", "d", "b", "a"]
    # 5. a new series in an existing run, and a new series in a new sub-folder
    client.log_metric(ids["d"], "extra", 5.0, timestamp=7000)
    client.log_metric(ids["d"], "deep/er", 6.0, timestamp=7000)
    found = _both_ways(root, "metrics.extra = 5")
    assert _names(found) == ["d"] and {"extra", "deep/er", "acc", "loss/train"} == set(found[0]["summaries"])
    # 6. tags and meta edited in place
    tags = _run_dir(root, ids["a"]) / "tags.json"
    tags.write_text(json.dumps({"team": "z", "mlflow.runName": "a"}))
    meta_a = _run_dir(root, ids["a"]) / "meta.json"
    meta_a.write_text(meta_a.read_text().replace('"FINISHED"', '"FAILED"  '))
    _by_hand(meta_a)
    assert _names(_both_ways(root, "tags.team = 'z' AND status = 'FAILED'")) == ["a"]
    # 7. a series removed, metrics.json rewritten by hand
    (_run_dir(root, ids["d"]) / "metrics" / "extra.tsv").unlink()
    _by_hand(_run_dir(root, ids["d"]) / "metrics" / "extra.tsv")
    found = _both_ways(root, "run_name = 'd'")
    assert "extra" not in found[0]["summaries"]
    summary = _run_dir(root, ids["b"]) / "metrics.json"
    data = json.loads(summary.read_text())
    data["acc"]["latest"] = 42.0  # bytes still match the series: the reader trusts the file
    summary.write_text(json.dumps(data))
    _by_hand(summary)
    assert _names(_both_ways(root, "metrics.acc = 42")) == ["b"]


def test_an_ended_run_is_checked_by_its_folder_alone(small: tuple[Path, gitrun.Client, dict[str, str]]) -> None:
    """Once sealed, a finished run's entry is taken on one stat of its folder (no file is looked at)."""
    root, _, ids = small
    _both_ways(root, "metrics.acc > 0")
    search_index.clear_memo()
    store = Store(root)
    from gitrun.search import engine

    with engine.open_scan(store) as scan:
        rows = list(engine.iter_rows(store, scan, [EXP], ViewType.ACTIVE_ONLY))
        assert [r.metric("acc") for r in rows] and all(r.trusted for r in rows)
        assert scan.counts["reads"] == 0 and scan.counts["trusted"] == 4
    # A run still running is read file by file every time.
    client = gitrun.Client(root)
    live = client.create_run(EXP, run_name="live").info.run_id
    client.log_metric(live, "acc", 0.5)
    _age(root)
    _both_ways(root)
    with engine.open_scan(store) as scan:
        rows = {r.run_id: r for r in engine.iter_rows(store, scan, [EXP], ViewType.ACTIVE_ONLY)}
        assert not rows[live].trusted and all(rows[i].trusted for i in ids.values())


def test_deleted_and_restored_runs_and_view_types(small: tuple[Path, gitrun.Client, dict[str, str]]) -> None:
    root, client, ids = small
    for view in (ViewType.ACTIVE_ONLY, ViewType.DELETED_ONLY, ViewType.ALL):
        _both_ways(root, view=view)
    client.delete_run(ids["b"])
    client.delete_run(ids["c"])
    assert _names(_both_ways(root)) == ["d", "a"]
    assert _names(_both_ways(root, view=ViewType.DELETED_ONLY)) == ["c", "b"]
    assert _names(_both_ways(root, "metrics.acc > 0.15", view=ViewType.ALL)) == ["d", "c"]
    deleted = _both_ways(root, view=ViewType.DELETED_ONLY)
    assert {f["info"].lifecycle_stage for f in deleted} == {"deleted"}
    client.restore_run(ids["b"])
    assert _names(_both_ways(root)) == ["d", "b", "a"]
    assert _names(_both_ways(root, view=ViewType.DELETED_ONLY)) == ["c"]
    assert gitrun.ViewType.from_any("ALL") == ViewType.ALL
    assert _names(_both_ways(root, view="DELETED_ONLY")) == ["c"]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "damage",
    [
        b"",  # empty file
        b"not an index at all",
        b"gitrun-search-index\n",  # header cut short
        "truncate",
        "flip",
    ],
    ids=["empty", "garbage", "short-header", "truncated", "bit-flip"],
)
def test_damaged_index_warns_and_is_rebuilt(small: tuple[Path, gitrun.Client, dict[str, str]], damage: Any) -> None:
    root, _, _ = small
    expected = _both_ways(root, "metrics.acc > 0.15", ["metrics.acc DESC"])
    path = _index_file(root)
    data = path.read_bytes()
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data = data[:-10] + bytes([data[-10] ^ 0xFF]) + data[-9:]
    else:
        data = damage
    path.write_bytes(data)
    search_index.clear_memo()
    with pytest.warns(StoreWarning, match="search index .* is damaged"):
        found = _search(root, "metrics.acc > 0.15", ["metrics.acc DESC"], use_index=True)
    assert found == expected
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _search(root, "metrics.acc > 0.15", ["metrics.acc DESC"], use_index=True) == expected


def test_index_from_another_python_is_rebuilt_silently(small: tuple[Path, gitrun.Client, dict[str, str]]) -> None:
    root, _, _ = small
    expected = _both_ways(root)
    path = _index_file(root)
    data = path.read_bytes()
    path.write_bytes(data.replace(sys.implementation.cache_tag.encode(), b"cpython-299", 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _search(root, use_index=True) == expected
    assert sys.implementation.cache_tag.encode() in path.read_bytes()


def test_index_made_in_another_folder_is_never_decoded(
    small: tuple[Path, gitrun.Client, dict[str, str]], tmp_path: Path
) -> None:
    """A clone (or a cache committed by force) carries an index naming another folder: ignored."""
    root, _, _ = small
    expected = _both_ways(root)
    clone = tmp_path / "clone" / ".gitrun"
    shutil.copytree(root, clone)
    path = _index_file(clone)
    data = path.read_bytes()
    path.write_bytes(data[:-20] + b"\x00" * 20)  # would be "damaged" if it were decoded
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = _search(clone, use_index=True)
    assert [f["info"].run_id for f in found] == [f["info"].run_id for f in expected]
    assert _search(clone, use_index=True) == _search(clone, use_index=False)


def test_running_status_is_never_cached(tmp_path: Path) -> None:
    root = tmp_path / ".gitrun"
    gitrun.Client(root).create_experiment(EXP)
    code = (
        "import sys, gitrun\n"
        f"c = gitrun.Client({str(root)!r})\n"
        f"r = c.create_run({EXP!r}, run_name='live')\n"
        "c.log_metric(r.info.run_id, 'acc', 0.5, timestamp=1)\n"
        "print(r.info.run_id, flush=True)\n"
        "sys.stdin.readline()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None
        proc.stdout.readline()
        _age(root)
        assert [f["info"].status for f in _both_ways(root)] == ["RUNNING"]
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=60)
    # the process is gone: the same cached files now say KILLED
    assert [f["info"].status for f in _search(root, use_index=True)] == ["KILLED"]
    assert _names(_both_ways(root, "status = 'KILLED'")) == ["live"]


def test_damaged_run_files_warn_every_time_and_match_the_reader(
    small: tuple[Path, gitrun.Client, dict[str, str]],
) -> None:
    root, _, ids = small
    _both_ways(root)
    (_run_dir(root, ids["a"]) / "params.json").write_text("{not json")
    with open(_run_dir(root, ids["b"]) / "metrics" / "acc.tsv", "a") as f:
        f.write("7\t90")  # a torn last line: the point is ignored, with a warning
    _by_hand(_run_dir(root, ids["a"]) / "params.json")
    _by_hand(_run_dir(root, ids["b"]) / "metrics" / "acc.tsv")
    for use_index in (False, True, True):
        with pytest.warns(StoreWarning) as caught:
            found = _search(root, "metrics.acc >= 0", use_index=use_index)
        messages = " ".join(str(w.message) for w in caught)
        assert "params.json" in messages and "acc.tsv" in messages
        by_name = {f["info"].run_name: f for f in found}
        assert by_name["a"]["params"] == {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StoreWarning)
            reader = Store(root).read_run(ids["b"])
        assert by_name["b"]["summaries"]["acc"][0] == reader.summaries["acc"].latest
    with pytest.raises(StoreFormatError):
        _search(root, use_index=True, strict=True)
    with pytest.raises(StoreFormatError):
        _search(root, use_index=False, strict=True)


def test_series_kept_in_dvc_read_as_the_reader_reads_them(small: tuple[Path, gitrun.Client, dict[str, str]]) -> None:
    """A series moved to DVC and not checked out: only ``<key>.tsv.dvc`` (with its size) is here."""
    root, _, ids = small
    _both_ways(root, "metrics.acc > 0")
    for name, size_delta in (("a", 0), ("b", 1)):  # a: the summary's bytes match the pointer; b: they do not
        series = _run_dir(root, ids[name]) / "metrics" / "acc.tsv"
        size = series.stat().st_size + size_delta
        series.unlink()
        (series.parent / "acc.tsv.dvc").write_text(f"outs:\n- md5: 0123\n  size: {size}\n  path: acc.tsv\n")
        _by_hand(series)
    found = {f["info"].run_name: f for f in _both_ways(root)}
    reader = Store(root)
    for name in ("a", "b"):
        assert found[name]["summaries"] == _flat(reader, reader.read_run(ids[name]))["summaries"]
    assert "acc" in found["a"]["summaries"] and "acc" not in found["b"]["summaries"]
    assert _names(_both_ways(root, "metrics.acc >= 0")) == ["d", "c", "a"]


def test_concurrent_searches_from_several_processes(small: tuple[Path, gitrun.Client, dict[str, str]]) -> None:
    root, _, _ = small
    expected = _names(_search(root, "metrics.acc > 0.05", ["metrics.acc DESC"], use_index=False))
    code = (
        "import json, warnings, gitrun\n"
        "from gitrun.search.api import search_run_records\n"
        "from gitrun.search import index\n"
        "from gitrun.store import Store\n"
        "warnings.simplefilter('error')\n"
        "out = []\n"
        "for _ in range(8):\n"
        "    index.clear_memo()\n"
        f"    rs = search_run_records(Store({str(root)!r}), None, 'metrics.acc > 0.05', 1, None, ['metrics.acc DESC'])\n"
        "    out.append([r.run_name for r in rs])\n"
        "print(json.dumps(out))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        for _ in range(3)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert all(names == expected for names in json.loads(out))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _names(_search(root, "metrics.acc > 0.05", ["metrics.acc DESC"], use_index=True)) == expected
    assert not [p for p in (root / ".cache").iterdir() if p.name.endswith(".tmp")]


def test_unknown_experiment_and_unreadable_cache_dir(small: tuple[Path, gitrun.Client, dict[str, str]]) -> None:
    root, _, _ = small
    with pytest.raises(gitrun.GitrunError, match="no experiment 'nope'"):
        search_run_records(Store(root), ["nope"])
    (root / ".cache").mkdir(exist_ok=True)
    (root / ".cache" / search_index.INDEX_NAME).mkdir()  # something in the way: searches still work
    assert _names(_search(root, use_index=True)) == ["d", "c", "b", "a"]


# -- a generated store ----------------------------------------------------------------------
_values = st.one_of(st.floats(-5, 5), st.just(math.nan), st.just(math.inf), st.just(-math.inf))
_points = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), _values), min_size=0, max_size=4)
_runs = st.lists(
    st.fixed_dictionaries(
        {
            "params": st.dictionaries(
                st.sampled_from(["p0", "p1", "p/2"]), st.sampled_from(["0.1", "1", "10", "abc", "1e-3", ""]), max_size=3
            ),
            "tags": st.dictionaries(
                st.sampled_from(["t0", "t.1"]), st.sampled_from(["x", "X", "y", "it's"]), max_size=2
            ),
            "metrics": st.dictionaries(st.sampled_from(["m0", "m1", "a/m2", ".h"]), _points, max_size=3),
            "status": st.sampled_from(["FINISHED", "FAILED", "KILLED", None]),
            "deleted": st.booleans(),
            "start": st.integers(0, 3),
            "damage": st.sampled_from(
                [None, None, None, "stale-summary", "torn-series", "bad-summary-entry", "bad-params"]
            ),
        }
    ),
    min_size=1,
    max_size=6,
)
GENERATED_FILTERS = [
    "",
    "metrics.m0 > 0",
    "metrics.m0 <= 0 OR metrics.m1 != 1",
    "NOT metrics.`a/m2` IS NULL OR metrics.`.h` > 0",
    "params.p0 = '0.1'",
    "params.p0 > 0.5 AND params.`p/2` IS NOT NULL",
    "tags.t0 ILIKE 'x'",
    "tags.`t.1` LIKE '%'",
    "status != 'FINISHED'",
    "end_time IS NULL OR start_time > 1",
]
GENERATED_ORDERS = [[], ["metrics.m0 DESC"], ["params.p0", "metrics.m1"], ["tags.t0 DESC"]]


def _write_generated(root: Path, runs: list[dict[str, Any]]) -> None:
    client = gitrun.Client(root)
    exp = client.create_experiment(EXP)
    for i, spec in enumerate(runs):
        run = client.create_run(exp, start_time=spec["start"], run_name=f"r{i}")
        rid = run.info.run_id
        client.log_batch(
            rid,
            metrics=[gitrun.Metric(k, v, ts, step) for k, pts in spec["metrics"].items() for step, ts, v in pts],
            params=[gitrun.Param(k, v) for k, v in spec["params"].items()],
            tags=[gitrun.RunTag(k, v) for k, v in spec["tags"].items()],
        )
        if spec["status"]:
            client.set_terminated(rid, spec["status"], end_time=10 + i)
        if spec["deleted"]:
            client.delete_run(rid)
        run_dir = _run_dir(root, rid)
        damage = spec["damage"]
        series = sorted((run_dir / "metrics").rglob("*.tsv"))
        if damage == "stale-summary" and series:
            with open(series[0], "a") as f:
                f.write("9\t9\t9.5\n")
        elif damage == "torn-series" and series:
            with open(series[0], "a") as f:
                f.write("9\t9")
        elif damage == "bad-summary-entry" and (run_dir / "metrics.json").exists():
            data = json.loads((run_dir / "metrics.json").read_text())
            for entry in data.values():
                entry["count"] = "many"
            (run_dir / "metrics.json").write_text(json.dumps(data))
        elif damage == "bad-params":
            (run_dir / "params.json").write_text("[1, 2]")
        if damage:
            _by_hand(run_dir / "meta.json")


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(_runs)
def test_index_on_and_off_agree_on_a_generated_store(runs: list[dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", StoreWarning)
        root = Path(tmp) / ".gitrun"
        _write_generated(root, runs)
        _age(root)
        store = Store(root)
        reader_view = {r.run_id: _flat(store, r) for r in store.iter_runs(view_type=ViewType.ALL)}
        for filter_string in GENERATED_FILTERS:
            for order_by in GENERATED_ORDERS:
                for view in (ViewType.ACTIVE_ONLY, ViewType.ALL):
                    found = _both_ways(root, filter_string, order_by, view)
                    # what a search returns for a run is what the reader returns for it
                    for item in found:
                        assert item == reader_view[item["info"].run_id]
        # the answers survive a change to every run (all signatures move)
        for run_dir in (root / "experiments" / EXP / "runs").iterdir():
            with open(run_dir / "tags.json", "w") as f:
                json.dump({"t0": "changed"}, f)
            _by_hand(run_dir / "tags.json")
        assert {f["tags"]["t0"] for f in _both_ways(root, "tags.t0 = 'changed'", view=ViewType.ALL)} == {"changed"}
