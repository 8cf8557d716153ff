"""Hand-corrupted files: a warning naming the file and line, the rest of the store still reads;
strict mode (``Store(strict=True)`` / ``gitrun --strict``) turns the same problems into errors."""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import gitrun
from gitrun.errors import RunNotFoundError, StoreFormatError, StoreWarning
from gitrun.store import Store
from tests.helpers import gitrun_cli


@dataclass
class Fixture:
    repo: Path
    store: Path
    victim: str  # the run whose files get corrupted
    others: list[str]  # runs that must keep reading

    def run_dir(self, run_id: str | None = None, experiment: str = "default") -> Path:
        return self.store / "experiments" / experiment / "runs" / (run_id or self.victim)


@pytest.fixture
def populated(repo: Path, store_dir: Path) -> Fixture:
    ids = []
    for name in ("victim", "bystander"):
        with gitrun.start_run(run_name=name) as run:
            gitrun.log_param("lr", 0.1)
            gitrun.set_tag("kind", name)
            for step in range(5):
                gitrun.log_metric("loss", 1.0 / (step + 1), step=step, timestamp=1000 + step)
        ids.append(run.info.run_id)
    gitrun.set_experiment("second", primary_metric="acc")
    with gitrun.start_run(run_name="elsewhere") as run:
        gitrun.log_metric("acc", 0.9)
    ids.append(run.info.run_id)
    return Fixture(repo, store_dir, ids[0], ids[1:])


def _read_all(store: Store) -> dict[str, gitrun.Run]:
    return {r.run_id: store.to_run(r) for r in store.iter_runs()}


def _assert_others_intact(fx: Fixture, runs: dict[str, gitrun.Run]) -> None:
    bystander, elsewhere = fx.others
    assert runs[bystander].data.params == {"lr": "0.1"}
    assert runs[bystander].data.metrics == {"loss": 0.2}
    assert runs[bystander].data.tags["kind"] == "bystander"
    assert runs[elsewhere].data.metrics == {"acc": 0.9}


def _warnings_of(call: Callable[[], object]) -> tuple[object, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call()
    return result, [str(w.message) for w in caught if issubclass(w.category, StoreWarning)]


def test_truncated_experiment_yaml(populated: Fixture) -> None:
    path = populated.store / "experiments" / "second" / "experiment.yaml"
    path.write_text("# gitrun experiment\nname: second\nprimary_metric: [acc\n")
    store = Store(populated.store)
    experiments, messages = _warnings_of(store.list_experiments)
    assert any(f"{path}:" in m and "cannot parse YAML" in m for m in messages), messages
    line = next(m for m in messages if str(path) in m).split(f"{path}:")[1].split(":")[0]
    assert line.isdigit() and 3 <= int(line) <= 4
    assert sorted(e.experiment_id for e in experiments) == ["default", "second"]
    runs, _ = _warnings_of(lambda: _read_all(store))
    _assert_others_intact(populated, runs)
    assert set(runs) == {populated.victim, *populated.others}
    with pytest.raises(StoreFormatError, match=rf"{path}:\d+: cannot parse YAML.*strict"):
        Store(populated.store, strict=True).list_experiments()


def test_experiment_yaml_that_is_not_a_mapping(populated: Fixture) -> None:
    path = populated.store / "experiments" / "second" / "experiment.yaml"
    path.write_text("- just\n- a list\n")
    experiments, messages = _warnings_of(Store(populated.store).list_experiments)
    assert any(str(path) in m and "mapping" in m for m in messages), messages
    assert "second" in [e.experiment_id for e in experiments]


def test_invalid_meta_json_skips_only_that_run(populated: Fixture) -> None:
    path = populated.run_dir() / "meta.json"
    path.write_text('{\n  "run_id": "x",\n  "status": \n')
    runs, messages = _warnings_of(lambda: _read_all(Store(populated.store)))
    assert any(f"{path}:" in m and "cannot parse JSON" in m for m in messages), messages
    assert set(runs) == set(populated.others)
    _assert_others_intact(populated, runs)
    with pytest.raises(StoreFormatError, match=str(path)):
        _read_all(Store(populated.store, strict=True))


def test_missing_meta_json(populated: Fixture) -> None:
    (populated.run_dir() / "meta.json").unlink()
    runs, messages = _warnings_of(lambda: _read_all(Store(populated.store)))
    assert any(str(populated.run_dir()) in m and "no meta.json" in m for m in messages), messages
    assert set(runs) == set(populated.others)


def test_run_folders_holding_only_gitrun_local_files_are_not_runs(populated: Fixture) -> None:
    """What a checkout of a branch without these runs leaves: locks and heartbeats, in strict mode too."""
    lonely = populated.store / "experiments" / "other-branch" / "runs" / "01JD5Z3F6XQ4N8V2K7C9B1M0TA"
    lonely.mkdir(parents=True)
    (lonely / ".lock").write_text("")
    (lonely / ".heartbeat-ws-1-42").write_text("")
    (lonely / ".gitrun-tmp.meta.json.42.abcd1234.tmp").write_text("{")
    for strict in (False, True):
        store = Store(populated.store, strict=strict)
        runs, messages = _warnings_of(lambda: _read_all(store))  # noqa: B023
        assert messages == [] and set(runs) == {populated.victim, *populated.others}
        assert "other-branch" not in [e.experiment_id for e in store.list_experiments()]
        with pytest.raises(RunNotFoundError, match="only gitrun's local files"):
            store.read_run(lonely.name)
    (lonely / "notes.txt").write_text("real data")  # no longer only local files: reported as before
    _, messages = _warnings_of(lambda: _read_all(Store(populated.store)))
    assert any(str(lonely) in m and "no meta.json" in m for m in messages), messages


def test_bad_series_line_in_the_middle(populated: Fixture) -> None:
    path = populated.run_dir() / "metrics" / "loss.tsv"
    lines = path.read_text().splitlines(keepends=True)
    lines.insert(3, "this is not\ta point\n")  # becomes line 4 of the file
    path.write_text("".join(lines))
    store = Store(populated.store)
    runs, messages = _warnings_of(lambda: _read_all(store))
    assert any(f"{path}:4: bad metric line" in m for m in messages), messages
    history, _ = _warnings_of(lambda: store.metric_history(populated.victim, "loss"))
    assert [m.step for m in history] == [0, 1, 2, 3, 4]
    assert runs[populated.victim].data.metrics == {"loss": 0.2}
    _assert_others_intact(populated, runs)
    with pytest.raises(StoreFormatError, match=rf"{path}:4: bad metric line"):
        Store(populated.store, strict=True).metric_history(populated.victim, "loss")


def test_incomplete_last_line(populated: Fixture) -> None:
    path = populated.run_dir() / "metrics" / "loss.tsv"
    with open(path, "a") as f:
        f.write("5\t1005")  # a writer killed mid-line would leave this
    store = Store(populated.store)
    history, messages = _warnings_of(lambda: store.metric_history(populated.victim, "loss"))
    assert any(f"{path}:7: incomplete last line" in m for m in messages), messages
    assert [m.step for m in history] == [0, 1, 2, 3, 4]
    runs, _ = _warnings_of(lambda: _read_all(store))
    assert runs[populated.victim].data.metrics == {"loss": 0.2}
    _assert_others_intact(populated, runs)
    with pytest.raises(StoreFormatError, match="incomplete last line"):
        Store(populated.store, strict=True).get_run(populated.victim)


def test_series_line_with_a_non_number(populated: Fixture) -> None:
    path = populated.run_dir() / "metrics" / "loss.tsv"
    with open(path, "a") as f:
        f.write("9\t1009\tlots\n10\t1010\t0.01\n")
    history, messages = _warnings_of(lambda: Store(populated.store).metric_history(populated.victim, "loss"))
    assert any(f"{path}:7:" in m for m in messages), messages
    assert [m.step for m in history] == [0, 1, 2, 3, 4, 10]


@pytest.mark.parametrize("content", ["[1, 2]", '"text"', "42", "{broken"])
@pytest.mark.parametrize("name", ["params.json", "tags.json"])
def test_unusable_params_or_tags_file(populated: Fixture, name: str, content: str) -> None:
    path = populated.run_dir() / name
    path.write_text(content)
    runs, messages = _warnings_of(lambda: _read_all(Store(populated.store)))
    assert any(str(path) in m for m in messages), messages
    victim = runs[populated.victim]
    assert getattr(victim.data, name.split(".")[0]) == {}
    assert victim.data.metrics == {"loss": 0.2}  # the rest of the run still reads
    _assert_others_intact(populated, runs)
    with pytest.raises(StoreFormatError, match=str(path)):
        _read_all(Store(populated.store, strict=True))


def test_corrupt_summary_is_recomputed_from_series(populated: Fixture) -> None:
    path = populated.run_dir() / "metrics.json"
    size = (populated.run_dir() / "metrics" / "loss.tsv").stat().st_size
    path.write_text(json.dumps({"loss": {"bytes": size, "latest": "oops", "min": 0, "max": 1, "step": 4}}))
    runs, messages = _warnings_of(lambda: _read_all(Store(populated.store)))
    assert any(str(path) in m and "recomputing" in m for m in messages), messages
    assert runs[populated.victim].data.metrics == {"loss": 0.2}
    path.write_text("{ truncated")
    runs, messages = _warnings_of(lambda: _read_all(Store(populated.store)))
    assert any(f"{path}:" in m for m in messages), messages
    assert runs[populated.victim].data.metrics == {"loss": 0.2}


def test_readers_never_modify_corrupt_files(populated: Fixture) -> None:
    corrupted = {
        populated.run_dir() / "params.json": "[1]",
        populated.run_dir() / "metrics" / "loss.tsv": "step\ttimestamp\tloss\n0\t1\t0.5\nbad\n1\t2",
        populated.store / "experiments" / "second" / "experiment.yaml": "name: [x\n",
    }
    for path, text in corrupted.items():
        path.write_text(text)
    _warnings_of(lambda: _read_all(Store(populated.store)))
    _warnings_of(lambda: Store(populated.store).list_experiments())
    for path, text in corrupted.items():
        assert path.read_text() == text


def test_logging_into_a_run_with_a_corrupt_params_file_is_a_clear_error(populated: Fixture) -> None:
    path = populated.run_dir() / "params.json"
    path.write_text("{broken")
    client = gitrun.Client(populated.store)
    with pytest.raises(gitrun.GitrunError, match=str(path)):
        client.log_param(populated.victim, "new", 1)
    assert path.read_text() == "{broken"  # not overwritten: nothing already logged is lost


def test_cli_warns_and_lists_the_rest_then_strict_fails(populated: Fixture) -> None:
    meta = populated.run_dir() / "meta.json"
    meta.write_text("{ nope")
    result = gitrun_cli("runs", "list", "--json", cwd=populated.repo)
    assert result.returncode == 0, result.stderr
    assert str(meta) in result.stderr and "StoreWarning" in result.stderr
    listed = {row["run_id"] for row in json.loads(result.stdout)}
    assert listed == set(populated.others)

    strict = gitrun_cli("--strict", "runs", "list", "--json", cwd=populated.repo)
    assert strict.returncode == 1
    assert strict.stdout == ""
    assert str(meta) in strict.stderr
    assert "Traceback" not in strict.stderr
    error_lines = [line for line in strict.stderr.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1


def test_cli_strict_on_a_bad_series_line(populated: Fixture) -> None:
    path = populated.run_dir() / "metrics" / "loss.tsv"
    with open(path, "a") as f:
        f.write("garbage\n")
    shown = gitrun_cli("runs", "show", populated.victim, "--json", cwd=populated.repo)
    assert shown.returncode == 0, shown.stderr
    assert f"{path}:7" in shown.stderr
    data = json.loads(shown.stdout)
    assert data["metric_summaries"]["loss"]["count"] == 5
    strict = gitrun_cli("--strict", "runs", "show", populated.victim, cwd=populated.repo)
    assert strict.returncode == 1
    assert f"{path}:7" in strict.stderr


def test_nan_values_survive_alongside_corruption(populated: Fixture) -> None:
    path = populated.run_dir() / "metrics" / "loss.tsv"
    with open(path, "a") as f:
        f.write("garbage\n7\t1007\tnan\n")
    history, _ = _warnings_of(lambda: Store(populated.store).metric_history(populated.victim, "loss"))
    assert history[-1].step == 7 and math.isnan(history[-1].value)


# -- bytes that are not UTF-8 (issue 9, item 13) -------------------------------------------------
# One bad byte per file, on a known line: the reader warns naming the file and that line, and
# reads the rest: of that file where it can, of the run, and of the store.
NON_UTF8: dict[str, tuple[bytes, bytes]] = {
    # file -> (bytes to find, the same with a byte that is not UTF-8)
    "metrics/loss.tsv": (b"2\t1002\t", b"2\t1002\t0.\xff"),
    "params.json": (b'"lr": "0.1"', b'"lr": "0.1", "note": "caf\xe9"'),
    "tags.json": (b'"kind": "victim"', b'"kind": "vic\xfftim"'),
    "meta.json": (b'"run_name": "victim"', b'"run_name": "vic\xc3tim"'),
    "metrics.json": (b'"loss": {', b'"lo\xffss": {"bytes": 1}, "loss": {'),
}


def _spoil(path: Path, find: bytes, replace: bytes) -> int:
    """Replace ``find`` with ``replace`` in ``path``; the 1-based line where the bad byte landed."""
    data = path.read_bytes()
    assert find in data, (path, data)
    at = data.index(find)
    path.write_bytes(data[:at] + replace + data[at + len(find) :])
    return data.count(b"\n", 0, at) + 1


def _finished(fx: Fixture) -> None:
    gitrun.Client(fx.store).set_terminated(fx.victim)  # so the victim has a metrics.json too


def _check_victim(fx: Fixture, name: str, run: gitrun.Run) -> None:
    assert run.data.metrics["loss"] == 0.2 or name == "metrics/loss.tsv"
    if name == "metrics/loss.tsv":
        assert run.data.metrics == {"loss": 0.2}  # the bad line (step 2) is skipped; step 4 is the latest
    assert run.data.params["lr"] == "0.1"
    if name == "params.json":
        assert run.data.params["note"] == "caf\ufffd"  # the bad byte replaced, the rest of the value kept
    assert run.data.tags["kind"] == ("vic\ufffdtim" if name == "tags.json" else "victim")
    assert run.info.run_name == ("vic\ufffdtim" if name == "meta.json" else "victim")


@pytest.mark.parametrize("name", list(NON_UTF8))
def test_non_utf8_byte_in_the_work_tree(populated: Fixture, name: str) -> None:
    _finished(populated)
    path = populated.run_dir() / name
    line = _spoil(path, *NON_UTF8[name][:2])
    runs, messages = _warnings_of(lambda: _read_all(Store(populated.store)))
    assert any(f"{path}:{line}: not valid UTF-8" in m for m in messages), messages
    _check_victim(populated, name, runs[populated.victim])
    _assert_others_intact(populated, runs)
    if name == "metrics/loss.tsv":
        history, messages = _warnings_of(lambda: Store(populated.store).metric_history(populated.victim, "loss"))
        assert [m.step for m in history] == [0, 1, 3, 4]
        assert any(f"{path}:{line}: not valid UTF-8" in m for m in messages), messages
    with pytest.raises(StoreFormatError, match=rf"{path}:{line}: not valid UTF-8"):
        _read_all(Store(populated.store, strict=True))


@pytest.mark.parametrize("use_index", [True, False])
@pytest.mark.parametrize("name", list(NON_UTF8))
def test_non_utf8_byte_in_a_search(populated: Fixture, name: str, use_index: bool) -> None:
    """The search's own row reader (gitrun/search/rows.py), with and without its index."""
    _finished(populated)
    gitrun.search_runs(search_all_experiments=True, output_format="list", use_index=use_index)  # index warm
    path = populated.run_dir() / name
    line = _spoil(path, *NON_UTF8[name][:2])
    found, messages = _warnings_of(
        lambda: gitrun.search_runs(search_all_experiments=True, output_format="list", use_index=use_index)
    )
    assert any(f"{path}:{line}: not valid UTF-8" in m for m in messages), messages
    runs = {r.info.run_id: r for r in found}  # type: ignore[union-attr]
    _check_victim(populated, name, runs[populated.victim])
    _assert_others_intact(populated, runs)
    frame, _ = _warnings_of(lambda: gitrun.search_runs(search_all_experiments=True, use_index=use_index))
    assert len(frame) == 3  # type: ignore[arg-type]


@pytest.mark.parametrize("name", list(NON_UTF8))
def test_non_utf8_byte_at_a_revision(populated: Fixture, name: str) -> None:
    from gitrun.vcs.revision import store_at
    from tests.helpers import run_git

    _finished(populated)
    path = populated.run_dir() / name
    line = _spoil(path, *NON_UTF8[name][:2])
    run_git(populated.repo, "add", "-f", ".gitrun")
    run_git(populated.repo, "commit", "-q", "-m", "runs with a bad byte")
    path.write_bytes(b"{}" if name.endswith(".json") else b"")  # the work tree no longer has it
    view = store_at(Store(populated.store), "HEAD")
    runs, messages = _warnings_of(lambda: {r.run_id: view.to_run(r) for r in view.iter_runs()})
    if name == "metrics/loss.tsv":  # read when the summary does not cover the series
        history, more = _warnings_of(lambda: view.metric_history(populated.victim, "loss"))
        messages += more
        assert [m.step for m in history] == [0, 1, 3, 4]  # type: ignore[union-attr]
        assert any("metrics/loss.tsv@" in m and f":{line}: not valid UTF-8" in m for m in messages), messages
    else:
        assert any(f"{name} (at " in m and f":{line}: not valid UTF-8" in m for m in messages), messages
    _check_victim(populated, name, runs[populated.victim])  # type: ignore[index]
    _assert_others_intact(populated, runs)  # type: ignore[arg-type]


def test_non_utf8_byte_in_experiment_yaml(populated: Fixture) -> None:
    path = populated.store / "experiments" / "second" / "experiment.yaml"
    line = _spoil(path, b"name: second", b"name: sec\xffond")
    experiments, messages = _warnings_of(Store(populated.store).list_experiments)
    assert any(f"{path}:{line}: not valid UTF-8" in m for m in messages), messages
    assert "sec\ufffdond" in [e.name for e in experiments]  # type: ignore[union-attr]


def test_cli_lists_runs_despite_a_non_utf8_byte(populated: Fixture) -> None:
    path = populated.run_dir() / "params.json"
    _spoil(path, b'"lr": "0.1"', b'"lr": "0.\xff1"')
    result = gitrun_cli("runs", "list", "--json", cwd=populated.repo)
    assert result.returncode == 0, result.stderr
    assert "not valid UTF-8" in result.stderr and str(path) in result.stderr
    assert "UnicodeDecodeError" not in result.stderr
    assert {row["run_id"] for row in json.loads(result.stdout)} == {populated.victim, *populated.others}


# -- values an old release accepted (issue 9, item 12) --------------------------------------------
def test_a_store_holding_out_of_range_values_still_builds_and_searches(populated: Fixture) -> None:
    """gitrun 0.1 accepted ``step=2**63``, ``timestamp=10**30`` and ``start_time=10**30``: readers
    skip those values with a warning instead of failing for the whole store."""
    _finished(populated)
    run_dir = populated.run_dir()
    series = run_dir / "metrics" / "loss.tsv"
    with open(series, "a") as f:
        f.write(f"{2**63}\t1005\t9.0\n7\t{10**30}\t8.0\n{-(2**63) - 1}\t1007\t7.0\n")
    summary = json.loads((run_dir / "metrics.json").read_text())
    summary["loss"].update(step=2**63, latest=9.0, bytes=series.stat().st_size)  # as the old release wrote it
    (run_dir / "metrics.json").write_text(json.dumps(summary))
    meta = json.loads((run_dir / "meta.json").read_text())
    meta.update(start_time=10**30, end_time=2**64)
    (run_dir / "meta.json").write_text(json.dumps(meta))

    runs, messages = _warnings_of(lambda: _read_all(Store(populated.store)))
    assert any(f"{series}:7:" in m and "64-bit" in m for m in messages), messages
    assert any("meta.json: start_time" in m for m in messages), messages
    victim = runs[populated.victim]
    assert victim.data.metrics == {"loss": 0.2} and victim.info.start_time == 0 and victim.info.end_time is None
    _assert_others_intact(populated, runs)
    for use_index in (True, False):
        found, messages = _warnings_of(
            lambda on=use_index: gitrun.search_runs(search_all_experiments=True, output_format="list", use_index=on)
        )
        assert {r.info.run_id for r in found} == {populated.victim, *populated.others}  # type: ignore[union-attr]
        assert any("meta.json: start_time" in m for m in messages), messages
        frame, _ = _warnings_of(lambda on=use_index: gitrun.search_runs(search_all_experiments=True, use_index=on))
        assert len(frame) == 3  # type: ignore[arg-type]

    for args in (["runs", "list", "--json"], ["runs", "show", populated.victim, "--json"]):
        result = gitrun_cli(*args, cwd=populated.repo)
        assert result.returncode == 0, result.stderr
    site = gitrun_cli("site", "build", "-o", str(populated.repo.parent / "site"), "--no-history", cwd=populated.repo)
    assert site.returncode == 0, site.stderr
    assert "OverflowError" not in site.stderr and "64-bit" in site.stderr
