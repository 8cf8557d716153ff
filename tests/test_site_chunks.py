"""The runs table at scale: chunks of runs loaded on demand, incremental builds equal to full ones.

An experiment's table is written as content-defined chunks (``data/experiments/<id>/<chunk>.js``)
under an index whose size does not depend on the run count; an incremental build after new runs
(one of them merged in with an old start time) and a write to an ended run rewrites only the
chunks and pages that hold them, and its output is byte for byte a full build's. In Chromium, the
table loads only the chunks its rows in view need, and every chunk before it sorts or filters.
"""

from __future__ import annotations

# ruff: noqa: F811  (pytest fixtures imported from test_site_browser are redefined as arguments)
import hashlib
from pathlib import Path
from typing import Any

import pytest
from test_site_browser import CHROMIUM, _open, browser_context  # noqa: F401 - fixture
from test_site_helpers import EPOCH, experiment_table, git, load_data, settle

import gitrun
from gitrun.site.build import BuildOptions, BuildResult, build_site
from gitrun.site.pages.experiment import split_chunks
from gitrun.store import RunRecord, Store

BASE_MS = 1_780_000_000_000
CHUNK_ROWS = 4


def _runs(client: Any, experiment_id: str, starts: list[int], first: int = 0) -> list[str]:
    ids = []
    for i, start in enumerate(starts, start=first):
        run = client.create_run(experiment_id, start_time=start, run_name=f"run-{i:03d}")
        run_id = run.info.run_id
        client.log_param(run_id, "lr", str(0.001 * (i % 7 + 1)))
        client.log_param(run_id, "opt", "adam" if i % 2 else "sgd")
        client.log_metric(run_id, "acc", (i * 37 % 101) / 100, step=0, timestamp=start)
        client.set_terminated(run_id, "FINISHED", end_time=start + 500)
        ids.append(run_id)
    return ids


def _members(site: Path, experiment_id: str) -> dict[str, set[str]]:
    """chunk file -> the IDs of its runs."""
    index = load_data(site / "data" / "experiments" / f"{experiment_id}.js")["table"]
    run_ids = experiment_table(site, experiment_id)["run_id"]
    members, offset = {}, 0
    for chunk in index["chunks"]:
        members[chunk["src"]] = set(run_ids[offset : offset + chunk["rows"]])
        offset += chunk["rows"]
    return members


def _build(repo: Path, out: Path, **options: Any) -> BuildResult:
    settle(repo)
    return build_site(Store(repo / ".gitrun"), BuildOptions(output=out, table_chunk_rows=CHUNK_ROWS, **options))


def _files(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def sweep(repo: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str, list[str]]:
    """60 committed runs of one experiment, a minute apart."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    client = gitrun.Client(repo / ".gitrun")
    experiment_id = client.create_experiment("sweep", primary_metric="acc")
    ids = _runs(client, experiment_id, [BASE_MS + 60_000 * i for i in range(60)])
    git(repo, "add", ".gitrun")
    git(repo, "commit", "-q", "-m", "60 runs")
    return repo, experiment_id, ids


def test_incremental_build_is_byte_identical_to_a_full_build(
    sweep: tuple[Path, str, list[str]], tmp_path: Path
) -> None:
    repo, experiment_id, ids = sweep
    site = tmp_path / "site"
    first = _build(repo, site)
    assert first.rebuilt_runs == 60
    index = load_data(site / "data" / "experiments" / f"{experiment_id}.js")["table"]
    assert len(index["chunks"]) > 3 and sum(c["rows"] for c in index["chunks"]) == 60
    members_before = _members(site, experiment_id)
    assert "values" not in str(index["columns"])  # the index holds no run's values

    client = gitrun.Client(repo / ".gitrun")
    new = _runs(client, experiment_id, [BASE_MS + 60_000 * 60, BASE_MS + 60_000 * 60 + 1], first=60)
    merged = _runs(client, experiment_id, [BASE_MS + 60_000 * 30 + 5], first=62)  # from another machine, older
    client.log_metric(ids[10], "late", 1.5)  # MLflow lets a finished run take more metrics
    second = _build(repo, site)
    assert second.rebuilt_runs == 4  # the three new runs and the one written to

    table = experiment_table(site, experiment_id)
    assert len(table["run_id"]) == 63 and set(table["run_id"]) == {*ids, *new, *merged}
    assert table["run_id"][:2] == new[::-1]  # newest first
    late = table["run_id"].index(ids[10])
    assert table["m:late"][late] == 1.5 and table["m:late"].count(None) == 62

    # Only the chunks holding a changed run were written again, and those a new run cut in two
    # (it starts a chunk when its ID hashes so): the others keep their runs and their bytes.
    changed = {*new, *merged, ids[10]}
    members = _members(site, experiment_id)
    written_chunks = {f for f in second.written if f.startswith(f"data/experiments/{experiment_id}/")}
    for src in written_chunks:
        assert members[src] & changed or members[src] != members_before.get(src), src
    assert len(written_chunks) <= 2 * len(changed) < len(members) - 2
    assert not any(f.startswith("runs/") and f[5:-5] not in changed for f in second.written)

    full = tmp_path / "full"
    _build(repo, full)
    assert _files(site) == _files(full)  # the manifest too

    again = _build(repo, site, full=True)  # --full renders every page; the bytes stay the same
    assert again.rebuilt_runs == 63 and again.written == ()
    assert _files(site) == _files(full)


def test_a_file_removed_from_a_shared_folder_is_written_again(
    sweep: tuple[Path, str, list[str]], tmp_path: Path
) -> None:
    repo, experiment_id, ids = sweep
    site = tmp_path / "site"
    _build(repo, site)
    (site / "runs" / f"{ids[3]}.html").unlink()
    chunk = load_data(site / "data" / "experiments" / f"{experiment_id}.js")["table"]["chunks"][1]["src"]
    (site / chunk).unlink()
    result = _build(repo, site)
    assert result.rebuilt_runs == 1
    assert f"runs/{ids[3]}.html" in result.written and chunk in result.written


def _record(run_id: str) -> RunRecord:
    return RunRecord(run_id=run_id, experiment_id="0", run_dir=Path(run_id), meta={}, status="FINISHED")


def test_chunks_are_cut_by_content() -> None:
    """A run inserted anywhere changes the chunk it falls into, and no other one."""
    records = [_record(f"{i:026d}") for i in range(2000)]
    before = split_chunks(records, 50)
    assert 20 < len(before) < 80 and max(len(c) for c in before) <= 200
    inserted = [*records[:1000], _record("X" * 26), *records[1000:]]
    after = split_chunks(inserted, 50)
    ids = [[r.run_id for r in chunk] for chunk in before]
    new_ids = [[r.run_id for r in chunk] for chunk in after]
    differing = [c for c in new_ids if c not in ids]
    assert len(differing) <= 2 and any("X" * 26 in c for c in differing)  # its chunk (split in two at most)
    assert sum(c not in new_ids for c in ids) == 1


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (scripts/install-system-deps.sh)")
def test_table_loads_chunks_on_demand(sweep: tuple[Path, str, list[str]], tmp_path: Path, browser_context: Any) -> None:
    repo, experiment_id, ids = sweep
    site = tmp_path / "site"
    _build(repo, site, history=False)
    index = load_data(site / "data" / "experiments" / f"{experiment_id}.js")["table"]
    page, watch = _open(browser_context, (site / "experiments" / f"{experiment_id}.html").resolve().as_uri())
    rows = page.locator("#runs-table tbody tr[data-run-id]")

    def loaded() -> int:
        return int(page.evaluate("() => document.querySelectorAll('script[src*=\"data/experiments/\"]').length"))

    page.wait_for_function("() => document.querySelectorAll('#runs-table tbody tr[data-run-id]').length > 0")
    assert rows.first.get_attribute("data-run-id") == ids[-1]  # newest first
    at_first = loaded()
    assert at_first < 1 + len(index["chunks"])  # the index and the chunks in view, not all of them
    page.eval_on_selector("#table-wrap", "el => { el.scrollTop = el.scrollHeight; }")
    page.wait_for_function(
        f"() => !!document.querySelector('#runs-table tbody tr[data-run-id=\"{ids[0]}\"]')"
    )  # the oldest run, in the last chunk
    assert page.locator("#runs-table tbody tr.loading").count() == 0
    page.click('th[data-col="m:acc"] button')  # sorting needs every chunk
    page.wait_for_function("() => document.querySelector('#row-count').textContent.startsWith('60 of 60')")
    assert loaded() == 1 + len(index["chunks"])
    page.eval_on_selector("#table-wrap", "el => { el.scrollTop = 0; }")
    page.wait_for_timeout(100)
    acc = {rid: (i * 37 % 101) / 100 for i, rid in enumerate(ids)}
    best = max(acc.values())
    assert acc[str(rows.first.get_attribute("data-run-id"))] == best
    page.fill("#filter", "metrics.acc > 0.9")
    expected = sum(v > 0.9 for v in acc.values())
    page.wait_for_function(f"() => document.querySelector('#row-count').textContent.startsWith('{expected} of 60')")
    watch.check(site.resolve().as_uri())
    page.close()
