"""Run pages: ``runs/<id>.html``, their data ``data/runs/<id>.js`` (also read by the compare page),
full series as CSV, and small artifacts copied into ``artifacts/<id>/``.

A run page depends on that run alone (plus the templates and options): its inputs hash into the
manifest key, so after one new run only that run's files are rendered. Many stale runs are rendered
by worker processes; each worker writes its files itself and reports which ones changed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gitrun import formatting
from gitrun.entities import SYSTEM_METRIC_PREFIX
from gitrun.formatting import format_duration, format_size, format_time
from gitrun.site import previews as previews_mod
from gitrun.site import safe
from gitrun.site.builder import Builder, content_key
from gitrun.site.context import (
    ArtifactView,
    DatasetView,
    ImageSeriesView,
    KeyValue,
    MetricView,
    ModelView,
    PreviewView,
    RunContext,
    RunInfoView,
    SiteInfo,
    SpecView,
    as_template_vars,
)
from gitrun.site.output import digest, digest_text, write_if_changed
from gitrun.site.resources import make_environment, template_cache
from gitrun.site.series import browser_series, read_series, to_csv
from gitrun.store import RunRecord
from gitrun.store.datasets import INPUTS_FILE, read_inputs
from gitrun.store.series import series_keys, series_size
from gitrun.store.textio import TEMP_PREFIX, json_number
from gitrun.tags import (
    DATA_CONTEXT,
    GIT_BRANCH,
    GIT_COMMIT,
    GIT_DIRTY,
    GIT_REPO_URL,
    NOTE,
    PARENT_RUN_ID,
    SOURCE_NAME,
    USER,
)
from gitrun.vcs import dvc
from gitrun.vcs.revision import RevisionStore

# Artifacts a browser would run as code if opened from the site: copied with ".txt" appended.
ACTIVE_SUFFIXES = (".html", ".htm", ".xhtml", ".svg", ".xml", ".js", ".mjs", ".shtml", ".php")
PARALLEL_THRESHOLD = 200  # stale runs from which worker processes pay off


@dataclass(frozen=True)
class RunSettings:
    """What a worker needs besides the run itself (picklable)."""

    output: Path
    template_dir: Path | None
    strict: bool
    max_points: int
    artifact_max_bytes: int
    site: SiteInfo
    specs: dict[str, dict[str, Any]]  # spec_key(metric, direction) -> spec
    store_root: Path
    store_rel: str
    branch: str | None
    repo_url: str | None  # for `dvc get`
    template_cache: Path | None = None  # compiled templates (resources.template_cache)


@dataclass(frozen=True)
class RunJob:
    record: RunRecord
    experiment_name: str
    directions: Mapping[str, str] = field(default_factory=dict)  # metric -> "min" / "max"
    registered: tuple[tuple[str, str, str], ...] = ()  # (model folder, "churn v0.0.2 (prod)", its anchor)
    code_diff: Path | None = None  # the file of its code diff (ReadStore.code_diff_path)


def spec_key(metric: str, direction: str | None) -> str:
    """The key of a metric chart's spec in :attr:`RunSettings.specs`."""
    return f"{direction or ''}:{metric}"


def page_path(run_id: str) -> str:
    return f"runs/{run_id}.html"


def data_path(run_id: str) -> str:
    return f"data/runs/{run_id}.js"


def csv_path(run_id: str, key: str) -> str:
    return f"data/runs/{run_id}/{safe.file_slug(key)}.csv"


def _walk_artifacts(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            if name == ".gitignore" or name.startswith(TEMP_PREFIX):  # DVC's list, a write in progress
                continue
            yield rel, os.stat(path)


def fingerprint(
    record: RunRecord,
    experiment_name: str,
    directions: Mapping[str, str] | None = None,
    code_diff: Path | None = None,
) -> list[Any]:
    """The inputs of a run's page: its files' content as the store reports it, without reading series.
    ``code_diff``: the file of its code diff (``ReadStore.code_diff_path``)."""
    summaries = {k: [s.latest, s.min, s.max, s.step, s.timestamp, s.count] for k, s in record.summaries.items()}
    sizes = {k: series_size(p) for k, p in series_keys(record.run_dir).items()}
    artifacts = [(rel, st.st_size, st.st_mtime_ns) for rel, st in _walk_artifacts(record.run_dir / "artifacts")]
    inputs = record.run_dir / INPUTS_FILE
    return [
        record.run_id,
        experiment_name,
        sorted((directions or {}).items()),
        record.status,
        record.meta,
        record.params,
        record.tags,
        repr(summaries),  # repr keeps NaN and infinities distinct
        sizes,
        artifacts,
        code_diff.stat().st_size if code_diff is not None else None,
        inputs.read_bytes() if inputs.exists() else None,
    ]


def build(builder: Builder) -> None:
    """The run pages (the built-in page ``run``): how many were rendered goes to ``builder.rebuilt_runs``."""
    builder.rebuilt_runs = build_all(builder)


def build_all(builder: Builder) -> int:
    """Bring every run's files up to date; returns how many runs were rendered."""
    snapshot = builder.snapshot
    jobs: list[tuple[str, str, RunJob]] = []
    total = 0
    registered = _registrations(snapshot.repo_root)
    revision = snapshot.store if isinstance(snapshot.store, RevisionStore) else None
    for exp in snapshot.experiments:
        for record in snapshot.records[exp.experiment_id]:
            total += 1
            directions = {k: exp.direction(k) for k in record.summaries}
            versions = registered.get(record.run_id, ())
            # a registered run's page links to the models page: the registry is one of its inputs
            known = content_key(snapshot, record)
            code_diff = None
            if known is not None:  # its files (and its tags, naming a shared diff by its hash) are known unchanged
                key = digest_text(
                    builder.salt, record.run_id, exp.name, repr(sorted(directions.items())), known, repr(versions)
                )
            else:
                code_diff = snapshot.store.code_diff_path(record)
                key = digest(
                    builder.salt,
                    [*fingerprint(record, exp.name, directions, code_diff), *([versions] if versions else [])],
                )
            unit = f"run:{record.run_id}"
            if not builder.writer.is_fresh(unit, key):
                if revision is not None:  # series, artifacts, inputs: the page reads the run's files, from Git
                    record = replace(record, run_dir=revision.find_run_dir(record.run_id)[1])
                    code_diff = revision.code_diff_path(record)
                elif code_diff is None:
                    code_diff = snapshot.store.code_diff_path(record)
                jobs.append((unit, key, RunJob(record, exp.name, directions, versions, code_diff)))
    builder.tick("runs", total - len(jobs), total)
    if not jobs:
        return 0
    charted = sorted({(k, job.directions.get(k)) for _, _, job in jobs for k in job.record.summaries})
    specs = {spec_key(k, d): builder.spec("metric_curves", title=k, by_run=False, direction=d) for k, d in charted}
    settings = RunSettings(
        output=builder.writer.output,
        template_dir=builder.options.template_dir,
        strict=builder.options.strict,
        max_points=builder.options.max_points,
        artifact_max_bytes=builder.options.artifact_max_bytes,
        site=builder.site_info("run", 1, with_source=False),
        specs=specs,
        store_root=snapshot.store.root,
        store_rel=snapshot.store_rel,
        branch=snapshot.branch,
        repo_url=snapshot.repo_url,
        template_cache=template_cache(snapshot.origin),
    )
    workers = builder.options.workers or os.cpu_count() or 1
    done = total - len(jobs)
    if workers > 1 and len(jobs) >= PARALLEL_THRESHOLD:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        chunk = max(1, len(jobs) // (workers * 8))
        context = multiprocessing.get_context("forkserver" if os.name == "posix" else "spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            results = pool.map(_render_job, [settings] * len(jobs), [job for _, _, job in jobs], chunksize=chunk)
            for (unit, key, _job), files in zip(jobs, results, strict=False):
                _record(builder, unit, key, files)
                done += 1
                builder.tick("runs", done, total)
    else:
        for unit, key, job in jobs:
            _record(builder, unit, key, render_run(settings, job))
            done += 1
            builder.tick("runs", done, total)
    return len(jobs)


def _registrations(root: Path | None) -> dict[str, tuple[tuple[str, str, str], ...]]:
    """run ID -> the registered versions of its models (docs/registry.md), from one ``git for-each-ref``."""
    if root is None:
        return {}
    from gitrun.registry.state import load

    out: dict[str, list[tuple[str, str, str]]] = {}
    for model in load(root).models.values():
        for v in model.versions:
            if v.run_id and v.path and "/artifacts/" in v.path and v.active:
                stages = f" ({', '.join(v.stages)})" if v.stages else ""
                folder = v.path.split("/artifacts/", 1)[1]
                out.setdefault(v.run_id, []).append(
                    (folder, f"{model.name} {v.version}{stages}", f"model-{model.name}")
                )
    return {run_id: tuple(sorted(items)) for run_id, items in out.items()}


def _record(builder: Builder, unit: str, key: str, files: list[tuple[str, bool]]) -> None:
    builder.writer.begin(unit, key)
    for rel, written in files:
        builder.writer.record(rel, written)
    builder.writer.end()


def _render_job(settings: RunSettings, job: RunJob) -> list[tuple[str, bool]]:
    return render_run(settings, job)


_ENVS: dict[tuple[Path | None, bool], Any] = {}


def _env(settings: RunSettings) -> Any:
    key = (settings.template_dir, settings.strict)
    if key not in _ENVS:
        _ENVS[key] = make_environment(settings.template_dir, settings.strict, bytecode_cache=settings.template_cache)
    return _ENVS[key]


def render_run(settings: RunSettings, job: RunJob) -> list[tuple[str, bool]]:
    """Write one run's page, data, CSVs and artifacts; returns ``(path, written)`` for each file."""
    from gitrun.store.series import series_keys

    record = job.record
    out: list[tuple[str, bool]] = []
    made: set[Path] = set()

    def write(rel: str, data: str | bytes) -> None:
        out.append((rel, write_if_changed(settings.output / rel, data, made)))

    run_id = record.run_id
    paths = series_keys(record.run_dir)
    series_data: dict[str, Any] = {}
    metrics: list[MetricView] = []
    specs: dict[str, Any] = {}
    for index, key in enumerate(sorted(record.summaries)):
        summary = record.summaries[key]
        series = read_series(paths[key], settings.strict) if key in paths else None
        csv_rel = csv_path(run_id, key)
        chart_id = f"metric-{index}"
        downsampled = False
        if series is not None:
            write(csv_rel, to_csv(series))
            shown = browser_series(series, settings.max_points)
            shown["csv"] = csv_rel
            series_data[key] = shown
            downsampled = shown["n"] > len(shown["v"])
            if summary.count > 1:  # a value logged once is shown as a value, not a one-point chart
                specs[chart_id] = settings.specs[spec_key(key, job.directions.get(key))]
        metrics.append(
            MetricView(
                key=key,
                latest=safe.format_number(summary.latest),
                min=safe.format_number(summary.min),
                max=safe.format_number(summary.max),
                step=summary.step,
                count=summary.count,
                csv_href=csv_rel if series is not None else "",
                chart_id=chart_id,
                downsampled=downsampled,
                single=summary.count == 1,
                direction=job.directions.get(key),
            )
        )
    tags = {k: safe.tag_value(k, v) for k, v in record.tags.items() if k != NOTE}
    data = {
        "id": run_id,
        "name": record.run_name,
        "experiment_id": record.experiment_id,
        "experiment": job.experiment_name,
        "status": record.status,
        "start_time": record.start_time,
        "end_time": record.end_time,
        "user": str(record.meta.get("user") or record.tags.get(USER) or ""),
        "commit": record.tags.get(GIT_COMMIT),
        "params": dict(sorted(record.params.items())),
        "tags": dict(sorted(tags.items())),
        "metrics": {
            k: {
                "latest": json_number(s.latest),
                "min": json_number(s.min),
                "max": json_number(s.max),
                "step": s.step,
                "count": s.count,
            }
            for k, s in sorted(record.summaries.items())
        },
        "series": series_data,
    }
    artifacts, image_series = _artifacts(settings, record, write)
    data["tables"] = {  # log_table's tables, for the compare page
        a.path: {"columns": list(a.preview.header), "rows": [list(r) for r in a.preview.rows]}
        for a in artifacts
        if a.preview is not None and a.preview.logged_table
    }
    write(data_path(run_id), safe.js_assign(f"run:{run_id}", data))
    note = record.tags.get(NOTE, "")
    context = RunContext(
        site=settings.site,
        run=_info(record, job.experiment_name),
        params=tuple(KeyValue(k, v) for k, v in sorted(record.params.items())),
        tags=tuple(KeyValue(k, v) for k, v in sorted(tags.items())),
        metrics=tuple(m for m in metrics if not m.key.startswith(SYSTEM_METRIC_PREFIX)),
        system_metrics=tuple(m for m in metrics if m.key.startswith(SYSTEM_METRIC_PREFIX)),
        artifacts=tuple(artifacts),
        datasets=_datasets(record),
        models=_models(settings, record, job.registered),
        image_series=image_series,
        note_html=safe.render_note(note) if note.strip() else "",
        recover_commands=_recover_commands(record),
        has_code_diff=job.code_diff is not None,
        data_src=data_path(run_id),
        specs=specs,
    )
    html = _env(settings).get_template("run.html").render(**as_template_vars(context))
    write(page_path(run_id), html)
    return out


def _datasets(record: RunRecord) -> tuple[DatasetView, ...]:
    return tuple(
        DatasetView(
            i.dataset.name,
            i.dataset.digest,
            i.tags.get(DATA_CONTEXT, ""),
            i.dataset.source_type,
            i.dataset.source,
            i.dataset.profile or "",
        )
        for i in read_inputs(record.run_dir)
    )


def _info(record: RunRecord, experiment_name: str) -> RunInfoView:
    tags = record.tags
    commit = tags.get(GIT_COMMIT)
    parent = record.meta.get("parent_run_id") or tags.get(PARENT_RUN_ID)
    parent = parent if isinstance(parent, str) and parent.isalnum() else None
    dirty = tags.get(GIT_DIRTY)
    return RunInfoView(
        run_id=record.run_id,
        name=record.run_name,
        status=record.status,
        start=format_time(record.start_time),
        end=format_time(record.end_time),
        duration=format_duration(record.start_time, record.end_time),
        user=str(record.meta.get("user") or tags.get(USER) or ""),
        source=str(record.meta.get("source") or tags.get(SOURCE_NAME) or ""),
        experiment_id=record.experiment_id,
        experiment_name=experiment_name,
        experiment_href=f"experiments/{record.experiment_id}.html",
        commit=commit,
        commit_short=commit[:10] if commit else None,
        commit_url=safe.forge_commit_url(tags.get(GIT_REPO_URL), commit),
        branch=tags.get(GIT_BRANCH),
        dirty=None if dirty is None else dirty == "true",
        parent_run_id=parent,
        parent_href=f"runs/{parent}.html" if parent else None,
    )


def _models(
    settings: RunSettings, record: RunRecord, registered: tuple[tuple[str, str, str], ...] = ()
) -> tuple[ModelView, ...]:
    from gitrun import tags
    from gitrun.models.info import models_in

    run_rel = os.path.relpath(record.run_dir, settings.store_root).replace(os.sep, "/")
    run_path = "/".join(p for p in (settings.store_rel, run_rel) if p)
    built = settings.site.built_from
    commit = built.commit if built.revision is not None else None
    views = []
    for m in models_in(record.run_dir, record.run_id, run_path, commit, record.tags.get(tags.GIT_COMMIT)):

        def rows(specs: tuple[Any, ...]) -> tuple[SpecView, ...]:
            return tuple(SpecView(r.name, r.type, r.required, r.default) for r in specs)

        views.append(
            ModelView(
                name=m.name,
                uri=m.uri,
                model_id=m.model_id,
                flavors=", ".join(m.flavors),
                serialization=m.serialization_format,
                size=formatting.format_size(m.size_bytes),
                inputs=rows(m.inputs),
                outputs=rows(m.outputs),
                params=rows(m.params),
                input_example=m.input_example,
                commands=m.commands,
                registered=tuple((text, anchor) for folder, text, anchor in registered if folder == m.name),
            )
        )
    return tuple(views)


def _recover_commands(record: RunRecord) -> tuple[str, ...]:
    commit = record.tags.get(GIT_COMMIT)
    if not commit:
        return ()
    short = record.run_id[:10].lower()
    return (f"gitrun runs checkout {record.run_id} ../code-{short}", f"git switch --detach {commit}")


def _artifacts(
    settings: RunSettings, record: RunRecord, write: Any
) -> tuple[list[ArtifactView], tuple[ImageSeriesView, ...]]:
    root = record.run_dir / "artifacts"
    listing = dict(_walk_artifacts(root))
    series = previews_mod.stepped_images(sorted(listing))
    in_series = {rel for steps in series.values() for _, full, small in steps for rel in (full, small) if rel}
    hrefs: dict[str, str] = {}
    views: list[ArtifactView] = []
    run_rel = os.path.relpath(record.run_dir, settings.store_root).replace(os.sep, "/")
    recorded = record.tags.get(GIT_REPO_URL)
    repo_url = (
        safe.https_repo_url(safe.tag_value(GIT_REPO_URL, recorded) if recorded else None)
        or settings.repo_url
        or "<repository URL>"
    )
    previews = 0

    def show(rel: str, source: Path | None, href: str | None) -> PreviewView | None:
        nonlocal previews
        if href is not None:
            hrefs[rel] = href
        if source is None or rel in in_series or previews >= previews_mod.MAX_PREVIEWS:
            return None
        thumb = f"previews/{record.run_id}/{safe.file_slug(rel)}.png"
        made = previews_mod.preview(source, rel, href, thumb, write)
        previews += made is not None
        return made

    for rel in sorted(listing):
        size = listing[rel].st_size
        if rel.endswith(".dvc"):
            target = rel[:-4]
            pointer = _read_pointer(root / rel)
            repo_path = "/".join(p for p in (settings.store_rel, run_rel, "artifacts", target) if p)
            rev = f" --rev {settings.branch}" if settings.branch else ""
            href = None
            if target in listing and listing[target].st_size <= settings.artifact_max_bytes:
                href = _copy_artifact(record, target, root, write)
            source = root / target if target in listing else _dvc_cached(settings, root / rel)
            views.append(
                ArtifactView(
                    path=target,
                    size=format_size(pointer.get("size")),
                    href=href,
                    note="tracked by DVC",
                    dvc_md5=pointer.get("md5"),
                    dvc_command=f"dvc get {repo_url} {repo_path}{rev}",
                    download=_download_name(target),
                    preview=show(target, source, href),
                )
            )
            continue
        if f"{rel}.dvc" in listing:
            continue  # shown with its pointer
        href = _copy_artifact(record, rel, root, write) if size <= settings.artifact_max_bytes else None
        note = "" if href else f"over {format_size(settings.artifact_max_bytes)}: not copied into the site"
        views.append(
            ArtifactView(
                rel, format_size(size), href, note, None, None, _download_name(rel), show(rel, root / rel, href)
            )
        )
    return views, tuple(_series_view(key, steps, hrefs) for key, steps in series.items())


def _series_view(key: str, steps: list[tuple[int, str, str | None]], hrefs: dict[str, str]) -> ImageSeriesView:
    return ImageSeriesView(
        key=key,
        steps=tuple(step for step, _, _ in steps),
        srcs=tuple(hrefs.get(small or "", "") or hrefs.get(full, "") for _, full, small in steps),
        hrefs=tuple(hrefs.get(full, "") for _, full, _ in steps),
    )


def _download_name(rel: str) -> str | None:
    """The ``download`` name of a link to an artifact a browser would run on the site's origin."""
    return Path(rel).name if rel.lower().endswith(ACTIVE_SUFFIXES) else None


def _dvc_cached(settings: RunSettings, pointer_file: Path) -> Path | None:
    """Where the DVC cache holds what ``pointer_file`` tracks (None when it is not there)."""
    try:
        pointer = dvc.read_pointer(pointer_file.read_text(encoding="utf-8"))
    except OSError:
        return None
    if pointer is None or pointer.is_dir:
        return None
    repo_root = settings.store_root
    for _ in [p for p in settings.store_rel.split("/") if p]:
        repo_root = repo_root.parent
    return dvc.cached_object(repo_root, pointer.md5, pointer.legacy)


def _copy_artifact(record: RunRecord, rel: str, root: Path, write: Any) -> str:
    target = f"artifacts/{record.run_id}/{rel}"
    if target.lower().endswith(ACTIVE_SUFFIXES):
        target += ".txt"
    write(target, (root / rel).read_bytes())
    return target


def _read_pointer(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        out = (data.get("outs") or [{}])[0]
        return {"md5": str(out.get("md5") or "") or None, "size": int(out["size"]) if "size" in out else None}
    except (OSError, yaml.YAMLError, AttributeError, TypeError, ValueError, IndexError):
        return {"md5": None, "size": None}
