"""Sweeps: an entry point (or a command) run over a grid of parameters, one child run per trial.

``-P lr=0.1,0.01 -P depth=3:6`` is a space of 2 x 4 points (``A,B`` lists values, ``3:6`` the
integers 3 to 6; ``\\,`` and ``\\:`` are a literal comma and colon). A grid runs every point, the
last parameter changing fastest; ``random=N`` draws N distinct points uniformly with ``seed``. The
sweep is a parent run; each trial is a child run submitted to a backend (:mod:`backends`), at most
``parallel`` at once. A failing trial ends FAILED and the sweep goes on. A trial whose
parameters match a FINISHED run of the same entry point, source and code (commit, and the same
uncommitted diff) is skipped, as MLflow's multistep example skips steps already run.
"""

from __future__ import annotations

import json
import math
import random as _random
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gitrun import tags
from gitrun.entities import Experiment, RunStatus
from gitrun.errors import InvalidInputError
from gitrun.projects import fetch
from gitrun.projects.backends import Backend, load_backend
from gitrun.projects.command import DEFAULT_OUTPUT_CAP
from gitrun.projects.runner import (
    RunOutcome,
    RunSpec,
    check_env_manager,
    check_environment,
    plan,
    source_context,
)
from gitrun.projects.spec import load_project
from gitrun.projects.submitted import SubmittedRun
from gitrun.ranking import rank_key
from gitrun.redact import strip_credentials
from gitrun.store import RunRecord, Store, new_run_id
from gitrun.store.layout import DEFAULT_EXPERIMENT_ID
from gitrun.store.names import generate_run_name
from gitrun.tracking import fluent
from gitrun.tracking.code import code_state
from gitrun.tracking.provenance import git_context
from gitrun.tracking.state import STATE, current_store

_RANGE = re.compile(r"^(-?\d+):(-?\d+)$")
_UNESCAPED_COMMA = re.compile(r"(?<!\\),")


# -- the space ---------------------------------------------------------------------------------
def parse_values(key: str, text: str) -> tuple[str, ...]:
    """The values of ``KEY=A,B,C`` / ``KEY=3:6`` (both can mix: ``1,5:7``)."""
    values: list[str] = []
    for piece in _UNESCAPED_COMMA.split(text):
        match = _RANGE.match(piece)
        if match:
            low, high = int(match[1]), int(match[2])
            if low > high:
                raise InvalidInputError(f"-P {key}={text}: the range {piece} is empty; write LOW:HIGH with LOW <= HIGH")
            values.extend(str(v) for v in range(low, high + 1))
        else:
            values.append(piece.replace("\\,", ",").replace("\\:", ":"))
    return tuple(values)


@dataclass(frozen=True)
class SweepSpace:
    """Named value lists, in the order given; their product is the grid."""

    params: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.params]

    @property
    def size(self) -> int:
        return math.prod(len(values) for _, values in self.params)

    def point(self, index: int) -> dict[str, str]:
        """The ``index``-th point of the grid (mixed radix: the last parameter changes fastest)."""
        out: dict[str, str] = {}
        for name, values in reversed(self.params):
            index, digit = divmod(index, len(values))
            out[name] = values[digit]
        return {name: out[name] for name in self.names}

    def grid(self) -> list[dict[str, str]]:
        return [self.point(i) for i in range(self.size)]

    def sample(self, n: int, seed: int) -> list[dict[str, str]]:
        """``n`` distinct points drawn uniformly (all of them when the grid is smaller), in drawing order."""
        if n < 1:
            raise InvalidInputError(f"--random {n}: draw at least one point")
        picks = _random.Random(seed).sample(range(self.size), min(n, self.size))
        return [self.point(i) for i in picks]

    def to_json(self) -> str:
        return json.dumps({name: list(values) for name, values in self.params})


def parse_space(assignments: Sequence[str]) -> SweepSpace:
    params: dict[str, tuple[str, ...]] = {}
    for item in assignments:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise InvalidInputError(f"-P {item!r} is not KEY=VALUES (e.g. lr=0.1,0.01 or depth=3:6)")
        if key in params:
            raise InvalidInputError(f"-P {key} is given twice; list its values once: {key}=A,B,C")
        params[key] = parse_values(key, text)
    return SweepSpace(tuple(params.items()))


# -- results -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrialResult:
    index: int  # 1-based, in the order trials were planned
    params: dict[str, str]
    run_id: str | None
    status: str
    exit_status: int | None = None
    value: float | None = None  # of the ranking metric
    skipped: bool = False  # an earlier FINISHED run with these params stands in for it
    error: str | None = None


@dataclass(frozen=True)
class SweepResult:
    parent_run_id: str
    parent_status: str
    param_names: tuple[str, ...]
    metric: str | None
    direction: str | None
    trials: tuple[TrialResult, ...]  # best first by the metric (trial order without one)
    branches: tuple[str, ...] = ()

    @property
    def failed(self) -> int:
        return sum(t.status != RunStatus.FINISHED for t in self.trials)

    @property
    def skipped(self) -> int:
        return sum(t.skipped for t in self.trials)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "failed": self.failed, "skipped": self.skipped}


def _ranked(trials: list[TrialResult], direction: str | None, end_times: Mapping[str, int | None]) -> list[TrialResult]:
    """Trials best first by gitrun's one ranking rule (gitrun.ranking): the better value, then the
    run that ended first, then the smaller run ID; trials without a number last."""
    return sorted(
        trials,
        key=lambda t: rank_key(t.value, direction, end_times.get(t.run_id or ""), t.run_id or f"~{t.index:09d}"),
    )


# -- skipping what already ran ---------------------------------------------------------------
@dataclass
class _Earlier:
    """FINISHED runs of the same source, entry point and code, to skip trials that already ran."""

    runs: list[RunRecord] = field(default_factory=list)

    @classmethod
    def find(
        cls, store: Store, experiment_id: str, tags_wanted: Mapping[str, str | None], diff: bytes | None
    ) -> _Earlier:
        found = []
        for record in store.iter_runs([experiment_id]):
            if record.status != RunStatus.FINISHED or tags.SWEEP_SPACE in record.tags:
                continue
            if any(record.tags.get(k) != v for k, v in tags_wanted.items()):
                continue
            if store.code_diff(record) != diff:
                continue
            found.append(record)
        return cls(found)

    def match(self, params: Mapping[str, str]) -> RunRecord | None:
        for record in self.runs:
            if all(record.params.get(k) == v for k, v in params.items()):
                return record
        return None


# -- the sweep ---------------------------------------------------------------------------------
def sweep(
    uri: str = ".",
    entry_point: str = "main",
    space: SweepSpace | Mapping[str, Sequence[Any]] | None = None,
    *,
    command: Sequence[str] | None = None,
    version: str | None = None,
    random: int | None = None,
    seed: int | None = None,
    parallel: int | None = None,
    backend: str = "local",
    backend_config: Mapping[str, Any] | None = None,
    experiment_name: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    env_manager: str | None = None,
    metric: str | None = None,
    output_cap: int = DEFAULT_OUTPUT_CAP,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> SweepResult:
    """Run the sweep to its end and return its trials, best first. ``on_progress(done, total, note)``
    is called as trials end (from this thread)."""
    if space is None:
        raise InvalidInputError("a sweep needs parameters to sweep over")
    if not isinstance(space, SweepSpace):
        space = SweepSpace(tuple((str(k), tuple(str(v) for v in vs)) for k, vs in space.items()))
    check_env_manager(env_manager)
    if seed is None:
        seed = _random.SystemRandom().randrange(2**31)
    points = space.grid() if random is None else space.sample(random, seed)
    source = None if command else fetch.resolve(uri, version)
    base = RunSpec(
        run_id="",
        argv=tuple(command or ()),
        project=source,
        entry_point=entry_point,
        env_manager=env_manager,
        backend=backend,
        tracking_uri=STATE.store_root(),
        cwd=str(Path.cwd()),
        output_cap=output_cap,
        stream=False,
    )
    directory, first = _check_trials(base, points)  # every trial's command, before anything runs
    store = current_store()
    experiment = _experiment(experiment_name, experiment_id)
    code = code_state(str(directory)) if source is None or not source.is_git else None
    commit = source.commit if source is not None and source.is_git else _commit(directory)
    wanted = {
        tags.SOURCE_NAME: first.source_name,
        tags.PROJECT_ENTRY_POINT: first.tags.get(tags.PROJECT_ENTRY_POINT),
        tags.GIT_COMMIT: commit,
    }
    earlier = _Earlier.find(store, experiment.experiment_id, wanted, code.diff if code else None)
    runner = load_backend(backend, backend_config)
    parent_tags = {
        **{k: v for k, v in first.tags.items() if k != tags.COMMAND},
        tags.SWEEP_SPACE: space.to_json(),
        tags.SWEEP_MODE: "grid" if random is None else "random",
        tags.SWEEP_TRIALS: str(len(points)),
        **({tags.SWEEP_SEED: str(seed)} if random is not None else {}),
    }
    if source is not None and source.is_git and source.url is not None and source.commit is not None:
        parent_tags.update({tags.GIT_COMMIT: source.commit, tags.GIT_REPO_URL: strip_credentials(source.url)})
    with source_context(first.source_name, directory):
        parent = fluent.start_run(  # inside an active run (a script's), the sweep is its child
            run_name=run_name or generate_run_name(),
            experiment_id=experiment.experiment_id,
            tags=parent_tags,
            nested=fluent.active_run() is not None,
        )
    driver = _Driver(base, runner, experiment, parent.info.run_id, parent.info.run_name, on_progress)
    try:
        results = driver.run(points, earlier, parallel or runner.default_parallel(), metric)
    except BaseException as exc:
        status = RunStatus.KILLED if isinstance(exc, KeyboardInterrupt) else RunStatus.FAILED
        parent.finish(status)
        runner.close(commit_with=[parent.info.run_id])
        raise
    metric_name = metric or experiment.primary_metric
    direction = experiment.direction(metric_name) if metric_name else None
    trial_ids = {t.run_id for t in results if t.run_id}
    ended = {r.run_id: r.end_time for r in store.iter_runs([experiment.experiment_id]) if r.run_id in trial_ids}
    ranked = _ranked(results, direction, ended) if metric_name else results
    best = next((t for t in ranked if t.value is not None and not math.isnan(t.value)), None)
    fluent.set_tags(
        {
            tags.SWEEP_SKIPPED: str(sum(t.skipped for t in results)),
            tags.SWEEP_FAILED: str(sum(t.status != RunStatus.FINISHED for t in results)),
            **({tags.SWEEP_BEST_RUN: best.run_id} if best is not None and best.run_id else {}),
        }
    )
    parent.finish(RunStatus.FINISHED)
    runner.close(commit_with=[parent.info.run_id])
    return SweepResult(
        parent.info.run_id,
        fluent.get_run(parent.info.run_id).info.status,
        tuple(space.names),
        metric_name,
        direction,
        tuple(ranked),
        tuple(getattr(runner, "pushed_branches", ())),
    )


def _check_trials(base: RunSpec, points: list[dict[str, str]]) -> tuple[Path, Any]:
    """Plan every trial's command once (types, required parameters, entry point) in one checkout."""
    if base.project is None:
        directory = Path(base.cwd or ".")
        plans = [plan(RunSpec(**{**asdict(base), "parameters": p, "project": None}), directory) for p in points]
        return directory, plans[0]
    with fetch.checkout(base.project) as checkout:
        project = load_project(checkout)
        check_environment(project, check_env_manager(base.env_manager), explicit=base.env_manager is not None)
        first = None
        for point in points:
            spec = RunSpec(**{**asdict(base), "project": base.project, "parameters": point})
            planned = plan(spec, checkout)
            first = first or planned
        directory = Path(base.project.directory) if base.project.directory else checkout
    return directory, first


def _experiment(name: str | None, experiment_id: str | None) -> Experiment:
    if name is not None:
        return fluent.set_experiment(name)
    resolved = fluent.resolve_experiment_id(experiment_id)
    if resolved == DEFAULT_EXPERIMENT_ID:
        current_store().ensure_default_experiment()  # a new store has none yet
    return fluent.get_experiment(resolved)


def _commit(directory: Path) -> str | None:
    ctx = git_context(str(directory))
    return ctx.commit if ctx is not None else None


class _Driver:
    """Submits the trials to the backend, ``parallel`` at a time, and collects their outcomes."""

    def __init__(
        self,
        base: RunSpec,
        backend: Backend,
        experiment: Experiment,
        parent_id: str,
        parent_name: str,
        on_progress: Callable[[int, int, str], None] | None,
    ):
        self.base = base
        self.backend = backend
        self.experiment = experiment
        self.parent_id = parent_id
        self.parent_name = parent_name
        self.on_progress = on_progress
        self.submitted: dict[int, SubmittedRun] = {}
        self.cancelled = False  # set (under the lock) when the sweep stops: trials starting later are cancelled too
        self.lock = threading.Lock()

    def spec(self, index: int, point: dict[str, str], width: int) -> RunSpec:
        return RunSpec(
            **{
                **asdict(self.base),
                "project": self.base.project,
                "argv": self.base.argv,
                "run_id": new_run_id(),
                "parameters": point,
                "experiment_id": self.experiment.experiment_id,
                "experiment_name": self.experiment.name,
                "run_name": f"{self.parent_name}-{index:0{width}d}",
                "parent_run_id": self.parent_id,
                "tags": {tags.SWEEP_TRIAL: str(index)},
            }
        )

    def _trial(self, index: int, spec: RunSpec) -> RunOutcome:
        submitted = self.backend.submit(spec)
        with self.lock:
            self.submitted[index] = submitted
            cancelled = self.cancelled
        if cancelled:  # Ctrl-C came while this trial was being started: it stops with the others
            submitted.cancel()
        submitted.wait()
        return submitted.outcome()

    def run(
        self, points: list[dict[str, str]], earlier: _Earlier, parallel: int, metric: str | None
    ) -> list[TrialResult]:
        metric = metric or self.experiment.primary_metric
        width = len(str(len(points)))
        results: dict[int, TrialResult] = {}
        todo: list[tuple[int, RunSpec]] = []
        for index, point in enumerate(points, 1):
            found = earlier.match(point)
            if found is not None:
                value = found.metrics.get(metric) if metric else None
                results[index] = TrialResult(index, point, found.run_id, found.status, 0, value, skipped=True)
            else:
                todo.append((index, self.spec(index, point, width)))
        total = len(points)
        self._progress(len(results), total, f"{len(results)} skipped" if results else "")
        pool = ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="gitrun-sweep")
        futures: dict[Future[RunOutcome], tuple[int, RunSpec]] = {}
        try:
            for index, spec in todo:
                futures[pool.submit(self._trial, index, spec)] = (index, spec)
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    index, spec = futures[future]
                    results[index] = self._result(index, spec, future, metric)
                    trial = results[index]
                    self._progress(len(results), total, f"#{index} {trial.status}")
        except BaseException:
            for future in futures:
                future.cancel()
            with self.lock:
                self.cancelled = True
                running = list(self.submitted.values())
            for submitted in running:
                submitted.cancel()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return [results[i] for i in sorted(results)]

    def _result(self, index: int, spec: RunSpec, future: Future[RunOutcome], metric: str | None) -> TrialResult:
        try:
            outcome = future.result()
        except Exception as exc:  # the backend failed for this trial: recorded, and the sweep goes on
            return TrialResult(index, spec.parameters, spec.run_id, RunStatus.FAILED, None, error=f"{exc}")
        value = outcome.metrics.get(metric) if metric else None
        return TrialResult(
            index, spec.parameters, outcome.run_id, outcome.status, outcome.exit_status, value, error=outcome.error
        )

    def _progress(self, done: int, total: int, note: str) -> None:
        if self.on_progress is not None:
            self.on_progress(done, total, note)
