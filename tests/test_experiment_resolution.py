"""One way from an experiment's name (or ID) to the experiment: ReadStore.resolve_experiment, and
one error for an unknown one, through every entry point that takes an experiment."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import gitrun
from gitrun.errors import ExperimentNotFoundError
from gitrun.store import Store
from tests.helpers import gitrun_cli, run_git

# What every entry point says after "no experiment 'nope' in <where>".
REASON = "(by name or ID); known: Churn Model (ID {churn}), iris"


@pytest.fixture
def store(repo: Path) -> Store:
    """Experiments "Churn Model" (an ID unlike its name) and "iris", one run each, committed;
    then one more run of each, not committed."""
    gitrun.set_tracking_uri(repo)
    for _ in range(2):
        for name in ("Churn Model", "iris"):
            gitrun.set_experiment(name, primary_metric="acc")
            with gitrun.start_run():
                gitrun.log_metric("acc", 0.5)
        if _ == 0:
            proc = gitrun_cli("commit", "-m", "first runs", cwd=repo)
            assert proc.returncode == 0, proc.stderr
    return Store(repo / ".gitrun")


def reason(store: Store) -> str:
    churn = store.get_experiment_by_name("Churn Model")
    assert churn is not None and churn.experiment_id != churn.name
    return REASON.format(churn=churn.experiment_id)


def test_a_name_first_then_an_id(store: Store) -> None:
    churn = store.get_experiment_by_name("Churn Model")
    assert churn is not None
    assert store.resolve_experiment("Churn Model") == store.resolve_experiment(churn.experiment_id) == churn
    with pytest.raises(ExperimentNotFoundError) as info:
        store.resolve_experiment("nope")
    assert str(info.value) == f"no experiment 'nope' in {store.root} {reason(store)}"
    with pytest.raises(ExperimentNotFoundError, match=r"in .* \(by ID\); known: Churn Model"):
        store.get_experiment("nope")


def test_the_library_entry_points(store: Store, repo: Path, caplog: pytest.LogCaptureFixture) -> None:
    client = gitrun.Client(repo / ".gitrun")
    churn = store.resolve_experiment("Churn Model").experiment_id
    assert client.experiment_id_for_name("Churn Model") == client.experiment_id_for_name(churn) == churn
    expected = f"no experiment 'nope' in {store.root} {reason(store)}"
    with pytest.raises(ExperimentNotFoundError) as info:
        client.experiment_id_for_name("nope")
    assert str(info.value) == expected
    with pytest.raises(ExperimentNotFoundError) as info:
        gitrun.commit(experiment="nope")
    assert str(info.value) == expected
    # search_runs(experiment_names=) keeps MLflow's contract (warn, search the others), with the same words
    with caplog.at_level(logging.WARNING):
        found = gitrun.search_runs(experiment_names=["nope", "Churn Model"], output_format="list")
    assert {r.info.experiment_id for r in found} == {churn}
    assert f"Cannot retrieve experiment by name nope: {expected}" in caplog.text
    with pytest.raises(ExperimentNotFoundError, match=r"\(by ID\); known: Churn Model"):
        gitrun.search_runs(["nope"])
    with pytest.raises(ExperimentNotFoundError, match=r"\(by ID\); known: .*; create it with set_experiment\(\)"):
        gitrun.start_run(experiment_id="nope")


@pytest.mark.parametrize(
    ("args", "where"),
    [
        (("runs", "list", "--experiment", "nope"), "{root}"),
        (("runs", "list", "--rev", "HEAD", "-e", "nope"), "{root} at {head}"),
        (("commit", "--experiment", "nope"), "{root}"),
        (("diff", "HEAD", "workspace", "-e", "nope"), "either side of the diff"),
        (("report", "pr", "HEAD", "workspace", "-e", "nope", "--out", "{tmp}"), "either side of the diff"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else v,
)
def test_every_command_says_the_same(store: Store, tmp_path: Path, args: tuple[str, ...], where: str) -> None:
    proc = gitrun_cli(*(a.format(tmp=tmp_path / "out") for a in args), cwd=store.root.parent)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    head = run_git(store.root.parent, "rev-parse", "HEAD").stdout.strip()[:10]
    where = where.format(root=store.root, head=head)
    assert proc.stderr.strip() == f"Error: no experiment 'nope' in {where} {reason(store)}"


def test_commands_take_a_name_or_an_id(store: Store) -> None:
    churn = store.resolve_experiment("Churn Model").experiment_id
    import json

    def run_ids(*args: str) -> set[str]:
        proc = gitrun_cli(*args, cwd=store.root.parent)
        assert proc.returncode == 0, proc.stderr
        return {r["run_id"] for r in json.loads(proc.stdout)}

    by_name = run_ids("runs", "list", "--json", "-e", "Churn Model")
    assert by_name == run_ids("runs", "list", "--json", "-e", churn) and len(by_name) == 2
    assert len(run_ids("runs", "list", "--json", "--rev", "HEAD", "-e", "Churn Model")) == 1
    proc = gitrun_cli("diff", "HEAD", "workspace", "--json", "-e", "Churn Model", cwd=store.root.parent)
    assert [e["experiment_id"] for e in json.loads(proc.stdout)["experiments"]] == [churn]
    proc = gitrun_cli("commit", "--json", "--experiment", churn, cwd=store.root.parent)
    assert proc.returncode == 0, proc.stderr
    assert {r["experiment_id"] for r in json.loads(proc.stdout)["runs"]} == {churn}
