"""The context of every page: one documented dataclass per page kind.

A template sees the fields of its page's dataclass as top-level variables (``site``,
``experiment``, ``runs``...), and nothing else besides the filters ``script_json``, ``fmt``,
``filesize`` and ``url``. A test checks that each built-in template uses exactly these fields, so
a custom template (``--template-dir``) can rely on this list. Values are plain text, numbers
already formatted for display where noted, and site-relative links (prefix them with
``site.root``). ``specs`` hold Vega-Lite dicts from :mod:`gitrun.charts`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class NavLink:
    """A link of the top navigation; ``href`` is relative to the site root."""

    href: str
    text: str
    key: str  # "home", "history", ... (the current page's key is highlighted)


@dataclass(frozen=True)
class BuiltFrom:
    """What the site shows it was built from."""

    commit: str | None  # full SHA of the commit the store was read at (HEAD or --rev)
    short: str | None  # 10-character SHA
    branch: str | None  # branch name when known
    date: str  # SOURCE_DATE_EPOCH when set, else the commit's date ("YYYY-MM-DD HH:MM:SS UTC"); "" without Git
    revision: str | None  # the --rev argument, when the site was built from a revision
    dirty: bool  # the store has changes not yet committed (working tree builds only)
    commit_url: str | None  # the commit on GitHub/GitLab, when the remote is there


@dataclass(frozen=True)
class SiteInfo:
    """What every page shares."""

    title: str  # site title
    root: str  # prefix from this page to the site root: "" or "../"
    page: str  # this page's key: "home", "experiment", "run", "compare", "history"
    nav: tuple[NavLink, ...]
    built_from: BuiltFrom
    generator: str  # "gitrun X.Y.Z"


@dataclass(frozen=True)
class ExperimentRow:
    """One experiment on the home page."""

    experiment_id: str
    name: str
    href: str  # experiments/<id>.html
    runs: int
    primary_metric: str | None
    direction: str | None  # "min" / "max"
    best_value: str  # formatted; "" when no run has the metric
    best_run_name: str
    best_run_href: str | None  # runs/<id>.html
    last_activity: str  # latest start or end time of its runs (UTC), "" without runs
    trend: str = ""  # SVG polyline points: the metric's best after each commit of the default branch
    trend_label: str = ""  # what the sparkline shows, in words (its accessible name)


@dataclass(frozen=True)
class CommitBest:
    """The best run a commit added to one experiment, by that experiment's metric."""

    experiment: str
    metric: str
    value: str  # formatted
    run_name: str
    run_href: str | None  # runs/<id>.html when the run is in the site


@dataclass(frozen=True)
class HomeCommit:
    """A recent commit of the default branch that added runs."""

    short: str
    commit_url: str | None
    author: str
    date: str  # UTC
    subject: str
    added: int  # runs added
    best: tuple[CommitBest, ...]  # per experiment it added runs to (at most 3)


@dataclass(frozen=True)
class HomeModel:
    """A registered model on the home page: its latest version and each stage's current one."""

    name: str
    latest: str  # "" when every version is deregistered
    stages: tuple[tuple[str, str], ...]  # (stage, version), by stage name


@dataclass(frozen=True)
class HomeContext:
    """``index.html``: the experiments, what happened lately, and what the site was built from."""

    site: SiteInfo
    experiments: tuple[ExperimentRow, ...]
    total_runs: int
    commits: tuple[HomeCommit, ...] = ()  # newest first
    branch: str | None = None  # the branch the sparklines and commits follow
    models: tuple[HomeModel, ...] = ()  # the registry's active models (docs/registry.md)


@dataclass(frozen=True)
class ExperimentInfo:
    experiment_id: str
    name: str
    primary_metric: str | None
    direction: str | None
    tags: tuple[tuple[str, str], ...]
    runs: int
    best_value: str  # formatted; "" when no run has the primary metric
    best_run_name: str
    best_run_href: str | None  # runs/<id>.html


@dataclass(frozen=True)
class ExperimentContext:
    """``experiments/<id>.html``: the runs table (rows come from ``data_src``) and the experiment's charts."""

    site: SiteInfo
    experiment: ExperimentInfo
    data_src: str  # data/experiments/<id>.js: columns, rows and chart data
    specs: dict[str, Any]  # "best" (metric curves), "pcp" (parallel coordinates), "scatter"; absent when no data
    best_runs: int  # how many best runs the metric chart overlays
    pcp_runs: int  # how many runs the parallel coordinates draw (the best ones when capped)


@dataclass(frozen=True)
class KeyValue:
    key: str
    value: str


@dataclass(frozen=True)
class MetricView:
    key: str
    latest: str
    min: str
    max: str
    step: int
    count: int
    csv_href: str  # data/runs/<id>/<file>.csv: the full series
    chart_id: str  # id of the chart's element and of its spec in ``specs``
    downsampled: bool  # the chart shows fewer points than the series has
    single: bool = False  # logged once: the page shows the value, not a one-point chart
    direction: str | None = None  # "min" / "max": which way is better


@dataclass(frozen=True)
class PreviewView:
    """An artifact's preview, made at build time (:mod:`gitrun.site.previews`)."""

    path: str
    kind: str  # "image", "table", "text", "markdown", "html"; "none" with a note saying why
    src: str = ""  # image: a site path (prefix site.root), or a data: URI for SVG
    text: str = ""  # text: the capped text
    html: str = ""  # markdown: sanitized HTML (mark it safe); html: the sandboxed frame's srcdoc
    header: tuple[str, ...] = ()  # table
    rows: tuple[tuple[str, ...], ...] = ()  # table: the first rows, formulas neutralized
    note: str = ""  # "first 64.0 KB of 10.0 MB", or why there is no preview
    logged_table: bool = False  # a table as log_table writes it (the compare page lines them up)

    @property
    def is_data_uri(self) -> bool:
        return self.src.startswith("data:")


@dataclass(frozen=True)
class ImageSeriesView:
    """An image logged at several steps (``log_image(key=, step=)``): one picture, a step slider."""

    key: str
    steps: tuple[int, ...]
    srcs: tuple[str, ...]  # per step: the image shown (MLflow's compressed preview when copied), site paths
    hrefs: tuple[str, ...]  # per step: the full image ("" when not copied into the site)


@dataclass(frozen=True)
class ArtifactView:
    path: str
    size: str  # formatted
    href: str | None  # artifacts/<run id>/<path> when copied into the site
    note: str  # why there is no link, e.g. "over 1.0 MB: not copied into the site"
    dvc_md5: str | None  # DVC-tracked: the content hash of the pointer file
    dvc_command: str | None  # DVC-tracked: how to download it
    download: str | None = None  # the link's download name (SVG, HTML: never opened on the site's origin)
    preview: PreviewView | None = None


@dataclass(frozen=True)
class DatasetView:
    """One dataset input of a run (``log_input``, DVC lineage, ``evaluate``)."""

    name: str
    digest: str
    context: str  # the input's mlflow.data.context tag ("" without one)
    source_type: str
    source: str  # the source's JSON text
    profile: str  # the profile's JSON text ("" without one)


@dataclass(frozen=True)
class SpecView:
    """One row of a model's signature table."""

    name: str  # "" for an unnamed input
    type: str
    required: bool
    default: str | None  # params only


@dataclass(frozen=True)
class ModelView:
    """One model a run holds (a folder of its artifacts with an MLmodel)."""

    name: str  # its artifact path
    uri: str  # runs:/<run id>/<name>
    model_id: str | None
    flavors: str  # "python_function, sklearn"
    serialization: str | None
    size: str  # formatted
    inputs: tuple[SpecView, ...]
    outputs: tuple[SpecView, ...]
    params: tuple[SpecView, ...]
    input_example: str | None  # input_example.json (cut when long)
    commands: tuple[tuple[str, str], ...]  # (what it does, the shell or Python command)
    registered: tuple[tuple[str, str], ...] = ()  # ("churn v0.0.2 (prod)", its anchor on models.html)


@dataclass(frozen=True)
class RunInfoView:
    run_id: str
    name: str
    status: str
    start: str
    end: str
    duration: str
    user: str
    source: str
    experiment_id: str
    experiment_name: str
    experiment_href: str
    commit: str | None
    commit_short: str | None
    commit_url: str | None
    branch: str | None
    dirty: bool | None
    parent_run_id: str | None
    parent_href: str | None


@dataclass(frozen=True)
class RunContext:
    """``runs/<id>.html``: one run, its metric charts, artifacts, note and code."""

    site: SiteInfo
    run: RunInfoView
    params: tuple[KeyValue, ...]
    tags: tuple[KeyValue, ...]
    metrics: tuple[MetricView, ...]
    system_metrics: tuple[MetricView, ...]  # system/...: CPU, memory, disk, network, GPU (own section)
    artifacts: tuple[ArtifactView, ...]
    datasets: tuple[DatasetView, ...]
    models: tuple[ModelView, ...]
    note_html: str  # sanitized HTML (mark it safe in a template); "" without a note
    recover_commands: tuple[str, ...]  # shell commands that bring the run's code back
    has_code_diff: bool
    data_src: str  # data/runs/<id>.js: the run and its downsampled series
    specs: dict[str, Any]  # chart_id -> Vega-Lite spec
    image_series: tuple[ImageSeriesView, ...] = ()  # stepped images, one slider per key


@dataclass(frozen=True)
class CompareContext:
    """``compare.html?runs=ID,ID``: filled in the browser from the runs' data files."""

    site: SiteInfo
    spec: dict[str, Any]  # metric curves by run; the browser sets each chart's title
    known_runs: int  # how many runs the site has (the page refuses IDs it does not know)
    bars_spec: dict[str, Any] = field(default_factory=dict)  # a metric every run logged once, as bars


@dataclass(frozen=True)
class HistoryRow:
    """One commit of the default branch that changed the store."""

    commit: str
    short: str
    date: str
    subject: str
    commit_url: str | None
    added: int
    removed: int
    best: tuple[tuple[str, str, str | None], ...]  # per series: (formatted value or "", run name, run href)


@dataclass(frozen=True)
class HistoryContext:
    """``history.html``: the best value of each primary metric across the commits of the default branch."""

    site: SiteInfo
    branch: str | None
    series: tuple[str, ...]  # "experiment · metric" column titles
    rows: tuple[HistoryRow, ...]  # newest first
    spec: dict[str, Any] | None
    data: list[dict[str, Any]]  # rows of the chart's "history" dataset
    message: str  # why there is no history, when there is none


@dataclass(frozen=True)
class ModelVersionRow:
    version: str
    number: int | None  # MLflow's version number
    stages: str  # "prod, staging": the stages whose current version this is
    active: bool
    run_id: str | None
    run_name: str
    run_href: str | None  # its run page, when the site has it
    metrics: str  # "auc 0.91 · loss 0.2": the source run's metrics
    commit: str
    commit_url: str | None
    size: str  # the model folder's size at the tagged commit


@dataclass(frozen=True)
class ModelEventRow:
    date: str
    event: str  # gto's event name
    version: str
    stage: str
    author: str
    message: str
    tag: str
    signature: str  # verified / unsigned / bad (with the reason as a title)
    signature_detail: str


@dataclass(frozen=True)
class ModelCard:
    name: str  # the GTO name (the page's anchor)
    mlflow_name: str | None
    latest: str | None
    stages: tuple[tuple[str, str], ...]  # (stage, its current version)
    deprecated: bool
    versions: tuple[ModelVersionRow, ...]  # newest first
    events: tuple[ModelEventRow, ...]  # newest first


@dataclass(frozen=True)
class ModelsContext:
    """``models.html``: every registered model, its versions and its full event history (docs/registry.md)."""

    site: SiteInfo
    models: tuple[ModelCard, ...]
    message: str  # why there is no model, when there is none


PAGE_CONTEXTS: dict[str, type] = {
    "index.html": HomeContext,
    "experiment.html": ExperimentContext,
    "run.html": RunContext,
    "compare.html": CompareContext,
    "history.html": HistoryContext,
    "models.html": ModelsContext,
}


def as_template_vars(context: Any) -> dict[str, Any]:
    """The dataclass's fields as template variables (shallow: nested values stay objects)."""
    return {f.name: getattr(context, f.name) for f in fields(context)}


__all__ = [
    "ArtifactView",
    "BuiltFrom",
    "CompareContext",
    "ExperimentContext",
    "ExperimentInfo",
    "ExperimentRow",
    "HistoryContext",
    "HistoryRow",
    "HomeContext",
    "KeyValue",
    "MetricView",
    "ModelCard",
    "ModelEventRow",
    "ModelVersionRow",
    "ModelView",
    "ModelsContext",
    "NavLink",
    "PAGE_CONTEXTS",
    "RunContext",
    "RunInfoView",
    "SiteInfo",
    "SpecView",
    "as_template_vars",
    "field",
]
