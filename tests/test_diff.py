"""``gitrun diff`` semantics on real repositories: runs logged through the API, committed with
``gitrun commit``, compared between branches, merge-bases and the working tree."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from gitrun.compare.diff import WORKSPACE
from gitrun.errors import GitrunError
from gitrun.vcs.git import GitRepo
from tests.helpers.diffkit import build_branched, client, commit, diff, git, log


def by_name(runs: object) -> dict[str, object]:
    return {r.run_name: r for r in runs}  # type: ignore[attr-defined]


@pytest.fixture
def branched(repo: Path) -> dict[str, str]:
    return build_branched(repo)


def test_added_removed_changed_and_renamed(repo: Path, branched: dict[str, str]) -> None:
    result = diff(repo, "main", "feature")
    assert [e.name for e in result.experiments] == ["digits"]
    (exp,) = result.experiments
    assert exp.in_base and exp.in_target
    assert [r.run_id for r in exp.added] == [branched["d"]]
    assert [r.run_id for r in exp.removed] == [branched["b"]]
    assert exp.unchanged == 0
    changed = {c.run.run_id: c for c in exp.changed}
    assert set(changed) == {branched["a"], branched["c"]}
    renamed = changed[branched["a"]]
    assert renamed.renamed and renamed.base_name == "a" and renamed.run.run_name == "a-renamed"
    assert not renamed.params and not renamed.metrics
    c = changed[branched["c"]]
    assert not c.renamed
    assert [(t.key, t.base, t.target) for t in c.tags if t.key == "reviewed"] == [("reviewed", None, "yes")]
    assert [(m.key, m.base, m.target) for m in c.metrics] == [("val_acc", 0.4, 0.45)]
    # the added run carries its params and latest metrics
    (added,) = exp.added
    assert added.params == {"lr": "0.05", "depth": "5"} and added.metrics["val_acc"] == 0.9
    assert result.has_changes and result.base.label == "main" and result.target.label == "feature"
    assert result.base.commit == git(repo, "rev-parse", "main")


def test_same_revision_has_no_changes(repo: Path, branched: dict[str, str]) -> None:
    result = diff(repo, "feature", "feature")
    (exp,) = result.experiments
    assert not result.has_changes and exp.unchanged == 3
    assert exp.delta == 0 and exp.improved is False


def test_best_run_change_and_params_between_best_runs(repo: Path, branched: dict[str, str]) -> None:
    (exp,) = diff(repo, "main", "feature").experiments
    assert exp.metric == "val_acc" and exp.direction == "max"
    assert exp.base_best is not None and exp.target_best is not None
    assert (exp.base_best.run_name, exp.base_best.value) == ("b", 0.8)
    assert (exp.target_best.run_name, exp.target_best.value) == ("d", 0.9)
    assert exp.delta == pytest.approx(0.1) and exp.improved is True
    assert {(c.key, c.base, c.target) for c in exp.best_params} == {("lr", "0.01", "0.05"), ("depth", "3", "5")}
    # every metric gets its own direction and best runs (val_loss: min, by gitrun's naming rule)
    assert exp.directions == {"val_acc": "max", "val_loss": "min"}
    assert exp.base_bests["val_loss"].run_name == "b" and exp.target_bests["val_loss"].run_name == "d"


def test_metric_directions_come_from_the_experiment_settings(repo: Path) -> None:
    # "score" reads like a gain, but the experiment says lower is better.
    log(
        repo,
        [{"name": "x", "metrics": {"score": 3.0}}, {"name": "y", "metrics": {"score": 2.0}}],
        "golf",
        "score",
        {"score": "min"},
    )
    commit(repo)
    git(repo, "checkout", "-qb", "feature")
    log(repo, [{"name": "z", "metrics": {"score": 2.5}}, {"name": "w", "metrics": {"score": 1.5}}], "golf")
    commit(repo)
    (exp,) = diff(repo, "main", "feature").experiments
    assert exp.direction == "min" and exp.directions["score"] == "min"
    assert exp.base_best.run_name == "y" and exp.target_best.run_name == "w"  # type: ignore[union-attr]
    assert exp.delta == pytest.approx(-0.5) and exp.improved is True
    # a branch that drops the best run and adds a worse one: a higher score is worse here
    git(repo, "checkout", "-q", "main")
    git(repo, "checkout", "-qb", "worse")
    log(repo, [{"name": "v", "metrics": {"score": 2.2}}], "golf")
    client(repo).delete_run(exp.base_best.run_id)  # type: ignore[union-attr]
    commit(repo)
    (exp,) = diff(repo, "main", "worse").experiments
    assert exp.base_best.run_name == "y" and exp.target_best.run_name == "v"  # type: ignore[union-attr]
    assert exp.delta == pytest.approx(0.2) and exp.improved is False


def test_lower_is_better_by_name_and_worse_result(repo: Path) -> None:
    log(repo, [{"name": "base", "metrics": {"val_loss": 0.2}}], "reg", "val_loss")
    commit(repo)
    git(repo, "checkout", "-qb", "feature")
    log(repo, [{"name": "new", "metrics": {"val_loss": 0.3}}], "reg")
    commit(repo)
    (exp,) = diff(repo, "main", "feature").experiments
    assert exp.direction == "min"
    assert exp.target_best.run_name == "base"  # type: ignore[union-attr]  # the target still holds the base's run
    assert exp.delta == 0 and exp.improved is False
    # --metric names the measure explicitly (here the primary metric itself)
    (exp,) = diff(repo, "main", "feature", metric="val_loss").experiments
    assert exp.metric == "val_loss"


def test_nan_values_never_win_and_compare_equal(repo: Path) -> None:
    nan_run, good = log(
        repo,
        [{"name": "diverged", "metrics": {"val_acc": [0.3, math.nan]}}, {"name": "ok", "metrics": {"val_acc": 0.6}}],
    )
    commit(repo)
    git(repo, "checkout", "-qb", "feature")
    (new_nan,) = log(repo, [{"name": "nan-too", "metrics": {"val_acc": math.nan}}])
    commit(repo)
    (exp,) = diff(repo, "main", "feature").experiments
    assert exp.base_best.run_id == good and exp.target_best.run_id == good  # type: ignore[union-attr]
    assert math.isnan(exp.added[0].metrics["val_acc"])
    assert exp.unchanged == 2 and not exp.changed  # NaN == NaN for "unchanged"
    assert exp.base_bests["val_acc"].run_id == good
    # a target whose only new run is NaN: no delta change, and the JSON holds "NaN" as a string
    doc = diff(repo, "main", "feature").to_dict()
    assert doc["experiments"][0]["added"][0]["metrics"]["val_acc"] == "NaN"
    assert new_nan and nan_run


def test_experiment_on_one_side_only(repo: Path) -> None:
    log(repo, [{"name": "old", "metrics": {"val_acc": 0.5}}], "legacy")
    commit(repo)
    git(repo, "checkout", "-qb", "feature")
    log(repo, [{"name": "fresh", "metrics": {"val_acc": 0.7}}], "brand-new")
    legacy_dir = repo / ".gitrun" / "experiments" / "legacy"
    git(repo, "rm", "-rq", str(legacy_dir.relative_to(repo)))
    git(repo, "commit", "-qm", "drop the legacy experiment")
    commit(repo, "new experiment")
    result = diff(repo, "main", "feature")
    exps = {e.name: e for e in result.experiments}
    assert set(exps) == {"legacy", "brand-new"}
    new = exps["brand-new"]
    assert not new.in_base and new.in_target and [r.run_name for r in new.added] == ["fresh"]
    assert new.base_best is None and new.target_best.value == 0.7 and new.delta is None and new.improved is None  # type: ignore[union-attr]
    gone = exps["legacy"]
    assert gone.in_base and not gone.in_target and [r.run_name for r in gone.removed] == ["old"]
    assert gone.target_best is None


def test_three_dot_uses_the_merge_base_and_two_dot_does_not(repo: Path) -> None:
    log(repo, [{"name": "first", "metrics": {"val_acc": 0.5}}])
    fork_point = commit(repo)
    git(repo, "checkout", "-qb", "feature")
    log(repo, [{"name": "feature-run", "metrics": {"val_acc": 0.6}}])
    commit(repo)
    git(repo, "checkout", "-q", "main")
    log(repo, [{"name": "main-later", "metrics": {"val_acc": 0.9}}])
    commit(repo)
    git(repo, "checkout", "-q", "feature")

    three = diff(repo, "main...HEAD")
    assert three.base.commit == fork_point and three.base.label == "merge-base(main, HEAD)"
    (exp,) = three.experiments
    assert [r.run_name for r in exp.added] == ["feature-run"] and not exp.removed
    assert exp.base_best.run_name == "first"  # type: ignore[union-attr]

    two = diff(repo, "main..HEAD")  # plain A..B compares the two tips
    (exp,) = two.experiments
    assert [r.run_name for r in exp.added] == ["feature-run"] and [r.run_name for r in exp.removed] == ["main-later"]
    same = diff(repo, "main", "HEAD")
    assert [r.run_name for r in same.experiments[0].removed] == ["main-later"]
    assert diff(repo, "main...").target.commit == git(repo, "rev-parse", "HEAD")


def test_default_sides_merge_base_vs_working_tree(repo: Path) -> None:
    log(repo, [{"name": "committed", "metrics": {"val_acc": 0.5}}])
    fork_point = commit(repo)
    git(repo, "checkout", "-qb", "feature")
    log(repo, [{"name": "branch-run", "metrics": {"val_acc": 0.6}}])
    commit(repo)
    log(repo, [{"name": "not-committed-yet", "metrics": {"val_acc": 0.7}}])  # only in the working tree
    result = diff(repo)
    assert result.base.commit == fork_point and result.base.label == "merge-base(main, HEAD)"
    assert result.target.commit is None and result.target.label == WORKSPACE
    (exp,) = result.experiments
    assert sorted(r.run_name for r in exp.added) == ["branch-run", "not-committed-yet"]
    # "workspace" names the working tree explicitly
    assert [r.run_name for r in diff(repo, "HEAD", "workspace").experiments[0].added] == ["not-committed-yet"]


def test_default_branch_in_a_ci_style_clone(repo: Path, tmp_path: Path) -> None:
    log(repo, [{"name": "r", "metrics": {"val_acc": 0.5}}])
    commit(repo)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    git(clone, "checkout", "-q", "--detach")
    git(clone, "branch", "-D", "main")
    git(clone, "remote", "set-head", "origin", "-d")
    assert GitRepo.find(clone).default_branch() == "origin/main"
    result = diff(clone)
    assert result.base.label == "merge-base(origin/main, HEAD)" and not result.has_changes


def test_only_changed_metric_and_experiment_filters(repo: Path) -> None:
    log(repo, [{"name": "s1", "metrics": {"val_acc": 0.5, "f1": 0.2}}], "static")
    (m1,) = log(repo, [{"name": "m1", "metrics": {"val_acc": 0.5, "f1": 0.9}}], "moving")
    commit(repo)
    git(repo, "checkout", "-qb", "feature")
    (m2,) = log(repo, [{"name": "m2", "metrics": {"val_acc": 0.8, "f1": 0.1}}], "moving")
    commit(repo)

    assert {e.name for e in diff(repo, "main", "feature").experiments} == {"static", "moving"}
    assert [e.name for e in diff(repo, "main", "feature", only_changed=True).experiments] == ["moving"]
    (exp,) = diff(repo, "main", "feature", experiments=["moving"]).experiments
    assert exp.target_best.run_id == m2  # type: ignore[union-attr]
    (by_f1,) = diff(repo, "main", "feature", experiments=["moving"], metric="f1").experiments
    assert by_f1.metric == "f1" and by_f1.target_best.run_id == m1 and by_f1.improved is False  # type: ignore[union-attr]
    # by experiment ID as well as by name
    assert [e.name for e in diff(repo, "main", "feature", experiments=[exp.experiment_id]).experiments] == ["moving"]
    with pytest.raises(GitrunError, match=r"no experiment 'nope'.*known: moving, static"):
        diff(repo, "main", "feature", experiments=["nope"])


def test_no_store_on_the_base_side(repo: Path) -> None:
    base = git(repo, "rev-parse", "HEAD")  # the template's commit: no .gitrun/ at all
    log(repo, [{"name": "first", "metrics": {"val_acc": 0.5}}])
    commit(repo)
    (exp,) = diff(repo, base, "HEAD").experiments
    assert not exp.in_base and [r.run_name for r in exp.added] == ["first"]


def test_cli_defaults_and_only_changed_flag(repo: Path, branched: dict[str, str]) -> None:
    from tests.helpers.diffkit import cli

    proc = cli(repo, "diff", "main", "feature", "--json", "--only-changed", "-e", "digits")
    assert proc.returncode == 0, proc.stderr
    import json

    doc = json.loads(proc.stdout)
    assert [e["name"] for e in doc["experiments"]] == ["digits"]
    assert {r["run_name"] for r in doc["experiments"][0]["added"]} == {"d"}
    shutil.rmtree(repo / ".gitrun" / ".cache", ignore_errors=True)
    proc = cli(repo, "diff", "main", "feature", "--json", "--metric", "val_loss")
    assert json.loads(proc.stdout)["experiments"][0]["direction"] == "min"


def test_same_answer_whether_unchanged_runs_are_ranked_from_briefs_or_read_whole(repo: Path) -> None:
    """Runs with the same Git tree on both sides are only counted and ranked (from the record
    cache, no record built): the diff equals the one that reads every run on both sides, cold or
    warm, ties between an unchanged run and a changed one included."""
    from gitrun.compare.diff import compute_diff, resolve_sides, store_for
    from gitrun.store import Store
    from gitrun.vcs.revision import store_at

    runs = [
        {"name": f"r{i}", "params": {"i": i}, "metrics": {"val_acc": [0.1, i / 10], "loss": 1 - i / 10, "aux": i}}
        for i in range(6)
    ]
    runs[5]["metrics"]["val_acc"] = [0.1, 0.4]  # r5 ties r4 (unchanged, ended first): r4 stays best
    ids = log(repo, runs)
    commit(repo)
    git(repo, "checkout", "-qb", "feature")
    c = client(repo)
    c.set_tag(ids[0], "note", "changed")
    c.log_metric(ids[3], "loss", 0.5, step=1)  # r3 changed: ties unchanged r5's loss, and ended first: r3 wins
    c.log_metric(ids[2], "val_acc", 0.9, step=2)  # r2 changed: the new best val_acc; r4 the old one
    c.delete_run(ids[1])
    log(repo, [{"name": "new", "metrics": {"val_acc": 0.4}}])
    commit(repo)
    store = Store(repo / ".gitrun")
    trees = store_at(store, "feature").run_trees
    assert len(trees) == 7 and {e for e, _ in trees.values()} == {"digits"}
    shutil.rmtree(repo / ".gitrun" / ".cache", ignore_errors=True)
    cold = diff(repo, "main", "feature")
    warm = diff(repo, "main", "feature")
    (exp,) = cold.experiments
    assert exp.unchanged == 2 and len(exp.changed) == 3 and len(exp.removed) == 1 and len(exp.added) == 1
    assert exp.base_best and exp.base_best.run_name == "r4" and exp.target_best and exp.target_best.run_name == "r2"
    assert exp.base_bests["loss"].run_name == "r5" and exp.target_bests["loss"].run_name == "r3"
    assert exp.base_bests["aux"].run_name == exp.target_bests["aux"].run_name == "r5"  # unchanged, best on both
    assert {c.key for c in exp.best_params} == {"i"}  # r4's params (unchanged: read for it alone) vs r2's
    base, target = resolve_sides(store, "main", "feature")
    plain = compute_diff(store_for(store, base), store_for(store, target), base, target)  # no trees
    assert cold.to_dict() == warm.to_dict() == plain.to_dict()


# -- each side's values come from that side only (issue 9, item 5) ---------------------------
@pytest.fixture
def resumed(repo: Path) -> dict[str, str]:
    """Commit 1: r0 (acc 0.4) and r1 (acc 3.4, the best). Commit 2: r0 resumed, acc 10 at step 1."""
    r0, r1 = log(
        repo, [{"name": "r0", "metrics": {"acc": 0.4}}, {"name": "r1", "metrics": {"acc": 3.4}}], "resumed", "acc"
    )
    commit(repo, "two runs")
    import gitrun

    with gitrun.start_run(run_id=r0):
        gitrun.log_metric("acc", 10.0, step=1)
    commit(repo, "r0 resumed")
    return {"r0": r0, "r1": r1}


def test_a_run_changed_between_sides_keeps_its_base_values_on_the_base_side(
    repo: Path, resumed: dict[str, str]
) -> None:
    import json

    from tests.helpers.diffkit import cli, table_after, unescape_cell

    (exp,) = diff(repo, "HEAD~1", "HEAD").experiments
    assert [c.run.run_id for c in exp.changed] == [resumed["r0"]]
    assert exp.base_best is not None and exp.target_best is not None
    assert (exp.base_best.run_name, exp.base_best.value) == ("r1", 3.4)
    assert (exp.target_best.run_name, exp.target_best.value) == ("r0", 10.0)
    assert exp.base_bests["acc"].run_name == "r1" and exp.delta == pytest.approx(6.6)

    text = cli(repo, "diff", "HEAD~1", "HEAD")
    assert text.returncode == 0, text.stderr
    assert "  best acc (max): 3.4 (r1) → 10 (r0)  +6.6 ▲ better" in text.stdout.splitlines()

    md = cli(repo, "diff", "HEAD~1", "HEAD", "--format", "md")
    best = table_after(md.stdout, "### resumed")
    assert [[unescape_cell(c) for c in row] for row in best["rows"][:2]] == [
        ["value", "3.4", "10", "+6.6 ▲ better"],
        ["run", "r1", "r0", ""],
    ]

    doc = json.loads(cli(repo, "diff", "HEAD~1", "HEAD", "--json").stdout)
    (e,) = doc["experiments"]
    assert e["base_best"] == {"run_id": resumed["r1"], "run_name": "r1", "value": 3.4}
    assert e["target_best"] == {"run_id": resumed["r0"], "run_name": "r0", "value": 10.0}
    assert e["metrics"]["acc"]["base_best"]["value"] == 3.4 and e["delta"] == pytest.approx(6.6)

    gate = cli(repo, "diff", "HEAD~1", "HEAD", "--check", "metrics.acc >= base + 5")
    assert gate.returncode == 0, gate.stdout + gate.stderr
    assert "base best 3.4 (run r1): 10 >= 8.4 is true" in gate.stdout
    gate = cli(repo, "diff", "HEAD~1", "HEAD", "--check", "metrics.acc >= base + 7")
    assert gate.returncode == 1 and "10 >= 10.4 is false" in gate.stdout


def test_a_changed_run_keeps_its_own_values_against_the_working_tree(repo: Path, resumed: dict[str, str]) -> None:
    """The same with the target in the working tree (no Git trees to compare), after a second resume."""
    import gitrun

    with gitrun.start_run(run_id=resumed["r1"]):
        gitrun.log_metric("acc", 0.1, step=1)  # r1's latest drops in the working tree only
    (exp,) = diff(repo, "HEAD", WORKSPACE).experiments
    assert exp.base_best is not None and exp.target_best is not None
    assert (exp.base_best.run_name, exp.base_best.value) == ("r0", 10.0)
    assert exp.base_bests["acc"].value == 10.0
    (back,) = diff(repo, "HEAD~1", WORKSPACE).experiments
    assert back.base_best is not None and (back.base_best.run_name, back.base_best.value) == ("r1", 3.4)
    assert back.target_best is not None and (back.target_best.run_name, back.target_best.value) == ("r0", 10.0)
