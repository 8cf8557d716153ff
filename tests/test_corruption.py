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
from conftest import gitrun_cli

import gitrun
from gitrun.errors import RunNotFoundError, StoreFormatError, StoreWarning
from gitrun.store import Store


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
