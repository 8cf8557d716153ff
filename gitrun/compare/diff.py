"""Experiment diffs: two store snapshots in, one :class:`Diff` value out. No printing here.

The renderers (``gitrun.compare.render``: text, Markdown, JSON) only format a ``Diff``; the CI gate
(``gitrun.gate``) only evaluates expressions against it. JSON shape: docs/schemas/diff.json.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from gitrun import ranking
from gitrun.entities import DatasetInput, Experiment, LifecycleStage, ViewType
from gitrun.errors import ExperimentNotFoundError, GitrunError
from gitrun.registry.changes import RegistryChanges, registry_changes
from gitrun.search import record_cache
from gitrun.search.record_cache import RunBrief
from gitrun.store import ReadStore, RunRecord, experiment_not_found
from gitrun.store.textio import json_number
from gitrun.tags import DATA_CONTEXT
from gitrun.vcs.git import GitRepo
from gitrun.vcs.revision import RevisionStore, store_at

SCHEMA_VERSION = 1
WORKSPACE = "workspace"

# run ID -> (experiment ID, Git tree ID of the run's directory) at one commit
RunTrees = Mapping[str, tuple[str, str]]


@dataclass(frozen=True)
class Side:
    """One side of a diff: a revision as the user named it, and the commit it resolved to."""

    label: str
    commit: str | None  # None for the working tree


@dataclass(frozen=True)
class ValueChange:
    key: str
    base: Any
    target: Any


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    run_name: str
    status: str
    start_time: int
    end_time: int | None = None  # None while running (and for a run killed before it ended)
    params: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RunChange:
    """A run present on both sides whose params, tags, metrics, status or name differ."""

    run: RunSummary  # as on the target side
    base_name: str
    base_status: str
    params: tuple[ValueChange, ...] = ()
    tags: tuple[ValueChange, ...] = ()
    metrics: tuple[ValueChange, ...] = ()  # latest values (points added show as a changed latest/count)
    datasets: tuple[ValueChange, ...] = ()  # "name (context)": the dataset's digest on each side

    @property
    def renamed(self) -> bool:
        return self.base_name != self.run.run_name


@dataclass(frozen=True)
class BestRun:
    run_id: str
    run_name: str
    value: float


@dataclass(frozen=True)
class MetricBest:
    """One metric's best run on each side of a diff, and how the best moved."""

    key: str
    direction: str  # "min" / "max"
    base: BestRun | None
    target: BestRun | None

    @property
    def delta(self) -> float | None:
        """``target - base``; None unless both sides have a best."""
        if self.base is None or self.target is None:
            return None
        return self.target.value - self.base.value

    @property
    def improved(self) -> bool | None:
        """True when the target's best beats the base's by the direction; None when not comparable."""
        base, target = self.base, self.target
        if base is None or target is None or math.isnan(target.value - base.value):  # inf - inf
            return None
        return ranking.is_better(target.value, base.value, self.direction)

    @property
    def changed(self) -> bool:
        """The best value differs between the sides (or only one side has one)."""
        if self.base is None or self.target is None:
            return self.base is not self.target
        return not _same(self.base.value, self.target.value)


@dataclass(frozen=True)
class ExperimentDiff:
    experiment_id: str
    name: str
    metric: str | None  # the metric that decides "best" (primary unless --metric)
    direction: str | None  # "min" / "max"
    in_base: bool
    in_target: bool
    added: tuple[RunSummary, ...] = ()
    removed: tuple[RunSummary, ...] = ()
    changed: tuple[RunChange, ...] = ()
    unchanged: int = 0
    base_best: BestRun | None = None
    target_best: BestRun | None = None
    best_params: tuple[ValueChange, ...] = ()  # params that differ between the two best runs
    # Every metric's direction and best run on each side (the gate and reports use them).
    directions: Mapping[str, str] = field(default_factory=dict)
    base_bests: Mapping[str, BestRun] = field(default_factory=dict)
    target_bests: Mapping[str, BestRun] = field(default_factory=dict)

    @property
    def has_changes(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    @property
    def headline(self) -> MetricBest | None:
        """The deciding metric's bests (None without a primary metric or ``--metric``)."""
        if not self.metric:
            return None
        return MetricBest(self.metric, self.direction or ranking.MAX, self.base_best, self.target_best)

    @property
    def delta(self) -> float | None:
        return self.headline.delta if self.headline else None

    @property
    def improved(self) -> bool | None:
        """True when the target's best beats the base's, by the metric's direction."""
        return self.headline.improved if self.headline else None

    def metric_bests(self) -> list[MetricBest]:
        """Every metric's bests, the most relevant first: the deciding metric, then the metrics
        whose best changed, then the rest (each group by name)."""
        bests = [
            MetricBest(key, self.directions[key], self.base_bests.get(key), self.target_bests.get(key))
            for key in sorted(self.directions)
        ]
        return sorted(bests, key=lambda m: (m.key != self.metric, not m.changed))

    def headline_metrics(self) -> list[MetricBest]:
        """The metrics a review leads with: the deciding one, then those whose best changed."""
        return [m for m in self.metric_bests() if m.key == self.metric or m.changed]

    def metric_columns(self, runs: Iterable[RunSummary], budget: int) -> list[str]:
        """Up to ``budget`` metrics that ``runs`` log, in :meth:`metric_bests` order (a run
        table's columns; the rest is in the JSON)."""
        logged = {key for run in runs for key in run.metrics}
        return [m.key for m in self.metric_bests() if m.key in logged][: max(budget, 0)]


@dataclass(frozen=True)
class Diff:
    base: Side
    target: Side
    experiments: tuple[ExperimentDiff, ...]
    schema_version: int = SCHEMA_VERSION
    registry: RegistryChanges = field(default_factory=RegistryChanges)  # models registered, stages moved

    @property
    def has_changes(self) -> bool:
        return any(e.has_changes for e in self.experiments) or not self.registry.empty

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (docs/schemas/diff.json); non-finite numbers become strings."""

        def num(value: Any) -> Any:
            return json_number(value) if isinstance(value, float) else value

        def run(r: RunSummary) -> dict[str, Any]:
            return {
                "run_id": r.run_id,
                "run_name": r.run_name,
                "status": r.status,
                "start_time": r.start_time,
                "end_time": r.end_time,
                "params": dict(sorted(r.params.items())),
                "metrics": {k: num(v) for k, v in sorted(r.metrics.items())},
            }

        def changes(items: Iterable[ValueChange]) -> list[dict[str, Any]]:
            return [{"key": c.key, "base": num(c.base), "target": num(c.target)} for c in items]

        def best(b: BestRun | None) -> dict[str, Any] | None:
            return None if b is None else {"run_id": b.run_id, "run_name": b.run_name, "value": num(b.value)}

        return {
            "schema_version": self.schema_version,
            "base": {"label": self.base.label, "commit": self.base.commit},
            "target": {"label": self.target.label, "commit": self.target.commit},
            "experiments": [
                {
                    "experiment_id": e.experiment_id,
                    "name": e.name,
                    "metric": e.metric,
                    "direction": e.direction,
                    "in_base": e.in_base,
                    "in_target": e.in_target,
                    "added": [run(r) for r in e.added],
                    "removed": [run(r) for r in e.removed],
                    "changed": [
                        {
                            **run(c.run),
                            "base_name": c.base_name,
                            "base_status": c.base_status,
                            "param_changes": changes(c.params),
                            "tag_changes": changes(c.tags),
                            "metric_changes": changes(c.metrics),
                            "dataset_changes": changes(c.datasets),
                        }
                        for c in e.changed
                    ],
                    "unchanged": e.unchanged,
                    "base_best": best(e.base_best),
                    "target_best": best(e.target_best),
                    "delta": num(e.delta) if e.delta is not None else None,
                    "improved": e.improved,
                    "best_param_changes": changes(e.best_params),
                    "metrics": {
                        m.key: {
                            "direction": m.direction,
                            "base_best": best(m.base),
                            "target_best": best(m.target),
                            "delta": num(m.delta) if m.delta is not None else None,
                            "improved": m.improved,
                        }
                        for m in e.metric_bests()
                    },
                }
                for e in self.experiments
            ],
            **({"registry": self.registry.to_dict()} if not self.registry.empty else {}),
        }


# -- computing -------------------------------------------------------------------------------
def _summary(record: RunRecord) -> RunSummary:
    return RunSummary(
        run_id=record.run_id,
        run_name=record.run_name,
        status=record.status,
        start_time=record.start_time,
        end_time=record.end_time,
        params=dict(record.params),
        metrics=dict(record.metrics),
    )


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def _dict_changes(base: Mapping[str, Any], target: Mapping[str, Any]) -> tuple[ValueChange, ...]:
    return tuple(
        ValueChange(key, base.get(key), target.get(key))
        for key in sorted(set(base) | set(target))
        if not _same(base.get(key), target.get(key))
    )


def _dataset_changes(base: Sequence[DatasetInput], target: Sequence[DatasetInput]) -> tuple[ValueChange, ...]:
    """The run's datasets on each side, keyed by name and context (``train (training)``), valued by digest."""

    def digests(inputs: Sequence[DatasetInput]) -> dict[str, str]:
        out = {}
        for i in inputs:
            context = i.tags.get(DATA_CONTEXT)
            out[f"{i.dataset.name} ({context})" if context else i.dataset.name] = i.dataset.digest
        return out

    return _dict_changes(digests(base), digests(target))


def _metric_changes(base: RunRecord, target: RunRecord) -> tuple[ValueChange, ...]:
    out = []
    for key in sorted(set(base.summaries) | set(target.summaries)):
        b, t = base.summaries.get(key), target.summaries.get(key)
        if b is None or t is None:
            out.append(ValueChange(key, b.latest if b else None, t.latest if t else None))
        elif not (_same(b.latest, t.latest) and b.count == t.count and b.step == t.step):
            out.append(ValueChange(key, b.latest, t.latest))
    return tuple(out)


def _all_bests(
    runs: Iterable[RunRecord | RunBrief], directions: Mapping[str, str], metrics_of: Mapping[str, Mapping[str, float]]
) -> dict[str, BestRun]:
    """Every metric's best run (:mod:`gitrun.ranking`), in one pass over the runs; ``metrics_of``
    holds the metrics of the runs that have no ``metrics`` dict at hand (store records)."""
    bests = ranking.best_runs(runs, directions, lambda run: metrics_of.get(run.run_id) or run.metrics)
    return {key: BestRun(run.run_id, run.run_name, value) for key, (run, value) in bests.items()}


@dataclass
class _Sides:
    """One experiment's runs on both sides: full records of the runs that differ or exist on one
    side only; a :class:`~gitrun.search.record_cache.RunBrief` of each run whose Git tree is the
    same on both sides (nothing in it differs: it is only counted and ranked)."""

    base: dict[str, RunRecord]
    target: dict[str, RunRecord]
    same: list[RunBrief] = field(default_factory=list)


def _records(store: ReadStore | None, experiment_id: str, exists: bool) -> dict[str, RunRecord]:
    if store is None or not exists:
        return {}
    return {r.run_id: r for r in record_cache.iter_runs(store, [experiment_id], ViewType.ACTIVE_ONLY)}


def _sides(
    base_store: ReadStore | None,
    target_store: ReadStore | None,
    experiment_id: str,
    exists: tuple[bool, bool],
    trees: tuple[RunTrees, RunTrees] | None,
) -> _Sides:
    """The runs of one experiment on both sides. With both sides at commits (``trees``), a run
    whose tree is the same on both needs no record: its brief comes from the record cache."""
    if trees is None or not isinstance(base_store, RevisionStore) or not isinstance(target_store, RevisionStore):
        return _Sides(_records(base_store, experiment_id, exists[0]), _records(target_store, experiment_id, exists[1]))
    base_trees, target_trees = trees
    same = sorted(r for r, where in target_trees.items() if where[0] == experiment_id and base_trees.get(r) == where)
    skip = set(same)

    def differing(store: RevisionStore, side: RunTrees) -> dict[str, RunRecord]:
        ids = sorted(r for r, (e, _) in side.items() if e == experiment_id and r not in skip)
        return {r.run_id: r for r in store.read_runs(ids) if r.lifecycle_stage == LifecycleStage.ACTIVE}

    briefs = [b for b in base_store.briefs(same) if b.lifecycle_stage == LifecycleStage.ACTIVE]
    return _Sides(differing(base_store, base_trees), differing(target_store, target_trees), briefs)


def compute_diff(
    base_store: ReadStore | None,
    target_store: ReadStore | None,
    base: Side,
    target: Side,
    *,
    experiments: Iterable[str] | None = None,
    metric: str | None = None,
    only_changed: bool = False,
    run_trees: tuple[RunTrees, RunTrees] | None = None,
) -> Diff:
    """Compare two snapshots of a store (either may be None: no store on that side).

    ``experiments`` limits the diff to experiments by name or ID; ``metric`` replaces each
    experiment's primary metric as the measure of "best". ``run_trees`` (base, target): each
    side's :attr:`~gitrun.vcs.revision.RevisionStore.run_trees` when both are commits: a run with
    the same Git tree on both sides is then neither read twice nor compared, only counted and ranked
    from its record cache entry (no record is built for it).
    """
    base_exps = {e.experiment_id: e for e in base_store.list_experiments(ViewType.ALL)} if base_store else {}
    target_exps = {e.experiment_id: e for e in target_store.list_experiments(ViewType.ALL)} if target_store else {}
    wanted = _wanted_ids(experiments, base_store, target_store) if experiments else None
    out = []
    for experiment_id in sorted(set(base_exps) | set(target_exps)):
        exp: Experiment = target_exps.get(experiment_id) or base_exps[experiment_id]
        if wanted is not None and experiment_id not in wanted:
            continue
        exists = (experiment_id in base_exps, experiment_id in target_exps)
        runs = _sides(base_store, target_store, experiment_id, exists, run_trees)
        base_runs, target_runs = runs.base, runs.target
        measure = metric or exp.primary_metric
        direction = exp.direction(measure) if measure else None
        added = tuple(_summary(target_runs[i]) for i in sorted(set(target_runs) - set(base_runs)))
        removed = tuple(_summary(base_runs[i]) for i in sorted(set(base_runs) - set(target_runs)))
        changed = []
        compared = sorted(set(base_runs) & set(target_runs))
        unchanged = len(runs.same)  # the same Git tree: nothing in the run differs
        base_inputs = base_store.read_inputs_of(base_runs[i] for i in compared) if base_store else {}
        target_inputs = target_store.read_inputs_of(target_runs[i] for i in compared) if target_store else {}
        for run_id in compared:
            b, t = base_runs[run_id], target_runs[run_id]
            change = RunChange(
                run=_summary(t),
                base_name=b.run_name,
                base_status=b.status,
                params=_dict_changes(b.params, t.params),
                tags=_dict_changes(b.tags, t.tags),
                metrics=_metric_changes(b, t),
                datasets=_dataset_changes(base_inputs.get(run_id, ()), target_inputs.get(run_id, ())),
            )
            changes = change.params or change.tags or change.metrics or change.datasets
            if changes or change.renamed or b.status != t.status:
                changed.append(change)
            else:
                unchanged += 1
        # RunRecord.metrics builds a dict per call: build each run's once, per side. A run on both
        # sides has its own values on each (a resumed run's metrics differ): never mix the two.
        base_metrics = {r.run_id: r.metrics for r in base_runs.values()}
        target_metrics = {r.run_id: r.metrics for r in target_runs.values()}
        keys = {k for side in (base_metrics, target_metrics) for m in side.values() for k in m}
        keys.update(k for brief in runs.same for k in brief.metrics)
        directions = {k: exp.direction(k) for k in sorted(keys)}
        # The runs the same on both sides are ranked once: each metric's best of them stands for
        # them all on both sides (a run that is not best at a metric among them cannot be overall).
        same_bests = list({id(run): run for run, _ in ranking.best_runs(runs.same, directions).values()}.values())
        base_bests = _all_bests([*same_bests, *base_runs.values()], directions, base_metrics)
        target_bests = _all_bests([*same_bests, *target_runs.values()], directions, target_metrics)
        base_best = base_bests.get(measure) if measure else None
        target_best = target_bests.get(measure) if measure else None
        best_params: tuple[ValueChange, ...] = ()
        if base_best and target_best and base_best.run_id != target_best.run_id:
            best_params = _dict_changes(
                _params(base_store, base_runs, base_best.run_id), _params(target_store, target_runs, target_best.run_id)
            )
        diff = ExperimentDiff(
            experiment_id=experiment_id,
            name=exp.name,
            metric=measure,
            direction=direction,
            in_base=experiment_id in base_exps,
            in_target=experiment_id in target_exps,
            added=added,
            removed=removed,
            changed=tuple(changed),
            unchanged=unchanged,
            base_best=base_best,
            target_best=target_best,
            best_params=best_params,
            directions=directions,
            base_bests=base_bests,
            target_bests=target_bests,
        )
        if (only_changed and not diff.has_changes) or not (base_runs or target_runs or runs.same):
            continue
        out.append(diff)
    return Diff(base, target, tuple(out))


def _params(store: ReadStore | None, records: Mapping[str, RunRecord], run_id: str) -> dict[str, str]:
    """A best run's params: from its record, or (a run the same on both sides) read for it alone."""
    if run_id in records:
        return records[run_id].params
    assert store is not None  # a best run was found on this side
    return store.read_run(run_id).params


def _wanted_ids(names: Iterable[str], *stores: ReadStore | None) -> set[str]:
    """IDs of the experiments ``names`` name (by name or ID, :meth:`ReadStore.resolve_experiment`)
    on either side; the store's error, naming both sides' experiments, for one on neither."""
    sides = [s for s in stores if s is not None]
    out = set()
    for name in names:
        found = set()
        for side in sides:
            try:
                found.add(side.resolve_experiment(name).experiment_id)
            except ExperimentNotFoundError:
                continue
        if not found:
            known = [e for side in sides for e in side.list_experiments(ViewType.ALL)]
            raise experiment_not_found(name, "either side of the diff", known)
        out |= found
    return out


# -- resolving revisions ---------------------------------------------------------------------
def resolve_sides(store: ReadStore, base: str | None, target: str | None) -> tuple[Side, Side]:
    """Sides from the CLI's arguments: ``A B``, ``A...B`` (merge-base), ``A..B``, or the defaults
    (merge-base with the default branch vs the working tree)."""
    repo = GitRepo.find(store.root)
    if base is not None and target is None and ".." in base:
        if "..." in base:
            left, right = base.split("...", 1)
            right = right or "HEAD"
            merge_base = repo.run("merge-base", repo.rev_parse(left or "HEAD"), repo.rev_parse(right)).strip()
            return Side(f"merge-base({left or 'HEAD'}, {right})", merge_base), _side(repo, right)
        left, right = base.split("..", 1)
        return _side(repo, left or "HEAD"), _side(repo, right or "HEAD")
    if base is None:
        branch = repo.default_branch()
        if branch is None:
            raise GitrunError(
                "cannot find the default branch (no origin/HEAD, main or master, and HEAD is detached); name the base revision"
            )
        head = repo.head()
        if head is None:
            raise GitrunError("the repository has no commits yet; there is nothing to diff against")
        merge_base = repo.run("merge-base", repo.rev_parse(branch), head).strip()
        return Side(f"merge-base({branch}, HEAD)", merge_base), Side(WORKSPACE, None)
    return _side(repo, base), _side(repo, target) if target else Side(WORKSPACE, None)


def _side(repo: Any, rev: str) -> Side:
    if rev.lower() == WORKSPACE:
        return Side(WORKSPACE, None)
    return Side(rev, repo.rev_parse(rev))


def store_for(store: ReadStore, side: Side) -> ReadStore:
    """The store as it is on ``side``: the working tree, or a read-only view at the commit."""
    if side.commit is None:
        return store
    return store_at(store, side.commit)


def diff_revisions(
    store: ReadStore,
    base: str | None = None,
    target: str | None = None,
    *,
    experiments: Iterable[str] | None = None,
    metric: str | None = None,
    only_changed: bool = False,
) -> Diff:
    """``gitrun diff [BASE] [TARGET]`` as a library call."""
    base_side, target_side = resolve_sides(store, base, target)
    base_store, target_store = store_for(store, base_side), store_for(store, target_side)
    trees = None
    if isinstance(base_store, RevisionStore) and isinstance(target_store, RevisionStore):
        trees = (base_store.run_trees, target_store.run_trees)  # from the listings the views made anyway
    diff = compute_diff(
        base_store,
        target_store,
        base_side,
        target_side,
        experiments=experiments,
        metric=metric,
        only_changed=only_changed,
        run_trees=trees,
    )
    return replace(diff, registry=registry_changes(store, base_side.commit, target_side.commit))
