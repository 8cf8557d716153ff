"""The pull-request report (``gitrun report pr``): the diff, the gate, curves and sparklines.

:func:`build_pr_report` computes a :class:`~gitrun.diff.Diff` between two revisions, evaluates
the ``--check`` gate on it, reads the primary metric's history of the runs the report draws,
and composes GitHub Markdown:

- the check results first (the reviewer's first question: did the gate pass?);
- per experiment the tables of :func:`gitrun.compare.render.render_markdown`, with a sparkline
  column, and a Mermaid ``xychart-beta`` of the best base run against the best new runs, its
  series named in a table below it (Mermaid's legend support varies);
- a hidden HTML-comment marker by which ``--post`` finds its own comment again.

The comment is fitted under GitHub's 65,536-character limit by cutting run tables (then charts)
and saying where the full report is. :func:`write_report` writes ``report.md`` (full),
``comment.md`` (fitted), ``diff.json`` and the same charts as SVG and PNG.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitrun import ranking
from gitrun._version import __version__
from gitrun.charts.mermaid import MAX_SERIES, SWATCHES, Line, xychart
from gitrun.charts.sparkline import sparkline
from gitrun.compare.diff import Diff, ExperimentDiff, MetricBest, RunSummary, Side, diff_revisions, store_for
from gitrun.compare.gate import CheckResult, evaluate, parse_check
from gitrun.compare.render import FOLDED_METRICS, SHOWN_METRICS, fmt, md_escape, render_markdown
from gitrun.errors import ExportUnavailable, GitrunError
from gitrun.report.github import GitHubError, pull_request_head, target_from_env, upsert_comment
from gitrun.store import ReadStore

COMMENT_LIMIT = 65_536  # GitHub's maximum length of an issue or pull-request comment body
DEFAULT_MARKER = "gitrun-report"
MAX_CURVES = 3  # best new runs drawn beside the base's best run
MAX_CHART_METRICS = 3  # charts per experiment: its headline metrics (ExperimentDiff.headline_metrics)
_MARKER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


def marker_comment(name: str = DEFAULT_MARKER) -> str:
    """The hidden line that identifies the sticky comment: ``<!-- gitrun-report -->``."""
    if not _MARKER_NAME.match(name):
        raise GitrunError(f"bad report marker {name!r}: use letters, digits and _.:- (at most 64 characters)")
    return f"<!-- {name} -->"


def comment_length(text: str) -> int:
    """Length as GitHub may count it: the larger of code points and UTF-16 code units."""
    return max(len(text), len(text.encode("utf-16-le")) // 2)


# -- curves ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CurveSeries:
    role: str  # "base best", "new best", "new #2", ...
    side: str  # "base" or "target"
    run_id: str
    run_name: str
    steps: tuple[int, ...]
    values: tuple[float, ...]
    times: tuple[float, ...]  # seconds since the run's first point of this metric

    @property
    def label(self) -> str:
        return f"{self.role}: {self.run_name or self.run_id[:10]} ({self.run_id[:8]})"

    @property
    def finite(self) -> list[float]:
        return [v for v in self.values if math.isfinite(v)]


@dataclass(frozen=True)
class CurveChart:
    experiment_id: str
    experiment: str
    metric: str
    direction: str
    series: tuple[CurveSeries, ...]

    @property
    def stem(self) -> str:
        """File name of the chart's images, without extension."""
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{self.experiment_id}--{self.metric}").strip("._")
        return safe or "chart"


class Histories:
    """Metric histories read from the two sides of a diff, each run and key read once."""

    def __init__(self, stores: Mapping[str, ReadStore | None]):
        self.stores = stores
        self._cache: dict[tuple[str, str, str], list[tuple[int, int, float]]] = {}

    def get(self, side: str, run_id: str, key: str) -> list[tuple[int, int, float]]:
        """``(step, timestamp, value)`` points in the order logged; [] when unknown on that side."""
        cache_key = (side, run_id, key)
        if cache_key not in self._cache:
            store = self.stores.get(side)
            points: list[tuple[int, int, float]] = []
            if store is not None:
                try:
                    points = [(m.step, m.timestamp, m.value) for m in store.metric_history(run_id, key)]
                except GitrunError:
                    points = []
            self._cache[cache_key] = points
        return self._cache[cache_key]


def _series(histories: Histories, side: str, role: str, run_id: str, run_name: str, key: str) -> CurveSeries:
    points = sorted(histories.get(side, run_id, key), key=lambda p: (p[0], p[1]))
    first_ts = min((p[1] for p in points), default=0)
    return CurveSeries(
        role=role,
        side=side,
        run_id=run_id,
        run_name=run_name,
        steps=tuple(p[0] for p in points),
        values=tuple(p[2] for p in points),
        times=tuple((p[1] - first_ts) / 1000 for p in points),
    )


def new_runs(exp: ExperimentDiff, metric: MetricBest | None = None) -> list[RunSummary]:
    """Runs the target added or changed, best first by ``metric`` (default: the experiment's
    deciding metric; :mod:`gitrun.ranking`)."""
    runs = [*exp.added, *(c.run for c in exp.changed)]
    metric = metric or exp.headline
    if metric is None:
        return runs
    return ranking.ranked(runs, metric.key, metric.direction)


def chart_metrics(exp: ExperimentDiff, limit: int = MAX_CHART_METRICS) -> list[MetricBest]:
    """The metrics the report draws for ``exp``: its headline metrics, as the tables lead with them."""
    return exp.headline_metrics()[: max(limit, 0)]


def lead_metric(exp: ExperimentDiff) -> str | None:
    """The metric of the report's sparklines: the deciding one, else the first whose best changed."""
    first = chart_metrics(exp, 1)
    return first[0].key if first else None


def curve_charts(diff: Diff, histories: Histories, max_curves: int = MAX_CURVES) -> list[CurveChart]:
    """Per experiment with new runs, per :func:`chart_metrics` metric: the base's best run and the
    best new runs."""
    max_curves = max(0, min(max_curves, MAX_SERIES - 1))
    charts = []
    for exp in diff.experiments:
        for metric in chart_metrics(exp) if max_curves else []:
            chart = _curve_chart(exp, metric, histories, max_curves)
            if chart is not None:
                charts.append(chart)
    return charts


def _curve_chart(exp: ExperimentDiff, metric: MetricBest, histories: Histories, max_curves: int) -> CurveChart | None:
    key = metric.key
    picked = [r for r in new_runs(exp, metric) if key in r.metrics and not math.isnan(r.metrics[key])]
    if not picked:
        return None
    series = []
    if metric.base is not None:
        series.append(_series(histories, "base", "base best", metric.base.run_id, metric.base.run_name, key))
    for i, run in enumerate(picked[:max_curves]):
        role = "new best" if i == 0 else f"new #{i + 1}"
        series.append(_series(histories, "target", role, run.run_id, run.run_name, key))
    series = [s for s in series if s.finite]
    if not any(len(s.finite) >= 2 for s in series):
        return None  # single points draw no curve; the tables say it all
    return CurveChart(exp.experiment_id, exp.name, key, metric.direction, tuple(series))


def chart_markdown(chart: CurveChart, precision: int = 4) -> list[str]:
    """The Mermaid block of ``chart`` and the table that names its lines."""
    block = xychart(
        [Line(s.steps, s.values) for s in chart.series],
        title=f"{chart.metric} by step",
        y_label=chart.metric,
    )
    if block is None:
        return []
    rows = [
        f"**{md_escape(chart.metric)}** ({chart.direction}): the base's best run and the best new runs",
        "",
        block,
        "",
        f"| line | run | side | last | best ({chart.direction}) | steps |",
        "|---|---|---|---|---|---|",
    ]
    for i, s in enumerate(chart.series):
        _, swatch, colour = SWATCHES[i]
        finite_steps = [st for st, v in zip(s.steps, s.values, strict=False) if math.isfinite(v)]
        span = f"{min(finite_steps)}–{max(finite_steps)}" if finite_steps else "—"
        rows.append(
            f"| {swatch} {colour} | {md_escape(s.role)}: {md_escape(s.run_name)} <sub>{s.run_id[:10]}</sub> | "
            f"{s.side} | {md_escape(fmt(s.values[-1], precision))} | {md_escape(fmt(ranking.best_value(s.finite, chart.direction), precision))} | "
            f"{span} ({len(s.values)} points) |"
        )
    rows.append("")
    return rows


# -- composing ---------------------------------------------------------------------------------
def checks_markdown(results: Sequence[CheckResult]) -> list[str]:
    """A summary line and a table of check results."""
    if not results:
        return []
    failed = [r for r in results if not r.passed]
    head = (
        f"**Gate: ❌ failed** ({len(failed)} of {len(results)} results)"
        if failed
        else f"**Gate: ✅ passed** ({len(results)} {'result' if len(results) == 1 else 'results'})"
    )
    lines = [head, "", "| | check | experiment | result |", "|---|---|---|---|"]
    lines += [
        f"| {'✅' if r.passed else '❌'} | {md_escape(r.check)} | {md_escape(r.experiment)} | {md_escape(r.explanation)} |"
        for r in results
    ]
    return [*lines, ""]


def _footer(details_url: str | None) -> str:
    where = f" · [workflow run]({details_url})" if details_url else ""
    return f"<sub>gitrun {__version__} · `gitrun report pr`{where}</sub>"


def _cut_note(details_url: str | None) -> str:
    where = (
        f"in the `gitrun-report` artifact of the [workflow run]({details_url})"
        if details_url
        else "in the report directory (`report.md`)"
    )
    return f"> [!NOTE]\n> This comment is shortened to fit GitHub's limit; the full report is {where}."


def compose(
    diff: Diff,
    results: Sequence[CheckResult],
    charts: Sequence[CurveChart],
    spark: Callable[[str, str], str] | None,
    *,
    precision: int = 4,
    max_runs: int = 50,
    with_charts: bool = True,
    marker: str = DEFAULT_MARKER,
    details_url: str | None = None,
    cut: bool = False,
    metric_rows: tuple[int, int] = (SHOWN_METRICS, FOLDED_METRICS),
) -> str:
    """The report's Markdown at one level of detail (``cut`` adds the where-is-the-rest note)."""
    by_exp: dict[str, list[CurveChart]] = {}
    for chart in charts if with_charts else []:
        by_exp.setdefault(chart.experiment_id, []).append(chart)

    def extra(exp: ExperimentDiff) -> list[str]:
        return [line for chart in by_exp.get(exp.experiment_id, []) for line in chart_markdown(chart, precision)]

    body = render_markdown(
        diff, precision, max_runs, sparkline=spark, extra=extra, max_metrics=metric_rows[0], max_folded=metric_rows[1]
    )
    header, _, rest = body.partition("\n\n")
    parts = [marker_comment(marker), header, ""]
    if cut:
        parts += [_cut_note(details_url), ""]
    parts += checks_markdown(results)
    parts += [rest.rstrip(), "", _footer(details_url)]
    return "\n".join(parts) + "\n"


MetricRows = tuple[int, int]  # metrics shown in a table, folded in <details> (render_markdown)
ALL_METRIC_ROWS: MetricRows = (SHOWN_METRICS, FOLDED_METRICS)


def fit(
    render: Callable[[int, bool, bool, MetricRows], str], max_runs: int, limit: int = COMMENT_LIMIT
) -> tuple[str, bool]:
    """The most detailed rendering under ``limit`` characters: fewer run rows, then no charts,
    then fewer metric rows (none at last), then a hard cut at a line boundary.
    ``render(max_runs, with_charts, cut, metric_rows)``; returns (text, cut)."""
    text = render(max_runs, True, False, ALL_METRIC_ROWS)
    if comment_length(text) < limit:
        return text, False
    levels: list[tuple[int, bool, MetricRows]] = [(rows, True, ALL_METRIC_ROWS) for rows in (20, 10, 5, 0)]
    levels += [(0, False, ALL_METRIC_ROWS), (0, False, (5, 20)), (0, False, (0, 0))]
    for rows, with_charts, metrics in levels:
        if rows > max_runs:
            continue
        text = render(rows, with_charts, True, metrics)
        if comment_length(text) < limit:
            return text, True
    return hard_cut(text, limit), True


def hard_cut(text: str, limit: int) -> str:
    """``text`` cut at a line boundary under ``limit``, closing open code fences and ``<details>``."""
    tail_budget = 200
    out: list[str] = []
    used = 0
    fence = False
    details = 0
    for line in text.splitlines():
        size = comment_length(line) + 1
        if used + size > limit - tail_budget:
            break
        out.append(line)
        used += size
        if line.startswith("```"):
            fence = not fence
        details += line.count("<details>") - line.count("</details>")
    closing = (["```"] if fence else []) + ["", "</details>"] * max(details, 0)
    return "\n".join([*out, *closing, "", "… (cut at GitHub's comment size limit)"]) + "\n"


@dataclass(frozen=True)
class PrReport:
    diff: Diff
    checks: tuple[CheckResult, ...]
    exit_code: int  # 0 every check holds (or none given), 1 one fails
    charts: tuple[CurveChart, ...]
    markdown: str  # the full report
    comment: str  # the same, fitted under the comment limit
    truncated: bool
    marker: str = DEFAULT_MARKER
    details_url: str | None = None
    histories: Histories | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """``diff.json``: the diff's document with the check results (docs/schemas/diff.json)."""
        doc = self.diff.to_dict()
        if self.checks:
            doc["checks"] = check_dicts(self.checks)
        return doc


def check_dicts(results: Iterable[CheckResult]) -> list[dict[str, Any]]:
    return [
        {"check": r.check, "experiment": r.experiment, "passed": r.passed, "explanation": r.explanation}
        for r in results
    ]


def sparkline_lookup(diff: Diff, histories: Histories, width: int = 24) -> Callable[[str, str], str]:
    """``(run_id, side) -> sparkline`` of that run's history of its experiment's metric."""
    # Keyed by side too: a run moved to another experiment between the sides is drawn with each
    # side's experiment metric.
    metric_of: dict[tuple[str, str], str] = {}
    for exp in diff.experiments:
        key = lead_metric(exp)
        if key is None:
            continue
        lead = next(m for m in exp.metric_bests() if m.key == key)
        for side, runs in (
            ("target", (*exp.added, *(c.run for c in exp.changed))),
            ("base", (*exp.removed, *(c.run for c in exp.changed))),
        ):
            for run in runs:
                metric_of[(side, run.run_id)] = key
        for side, best in (("base", lead.base), ("target", lead.target)):
            if best is not None:
                metric_of[(side, best.run_id)] = key

    def spark(run_id: str, side: str) -> str:
        key = metric_of.get((side, run_id))
        if key is None:
            return ""
        points = sorted(histories.get(side, run_id, key), key=lambda p: (p[0], p[1]))
        return sparkline([p[2] for p in points], width)

    return spark


def build_pr_report(
    store: ReadStore,
    base: str | None = None,
    target: str | None = None,
    *,
    experiments: Iterable[str] | None = None,
    metric: str | None = None,
    only_changed: bool = False,
    checks: Sequence[str] = (),
    require_runs: bool = False,
    precision: int = 4,
    max_runs: int = 50,
    max_curves: int = MAX_CURVES,
    sparklines: bool = True,
    marker: str = DEFAULT_MARKER,
    details_url: str | None = None,
    limit: int = COMMENT_LIMIT,
) -> PrReport:
    """Everything ``gitrun report pr`` shows, as one value (nothing is written or posted)."""
    marker_comment(marker)  # refuse a bad marker before any work
    for check in checks:  # malformed checks fail (exit 2) before the diff is computed
        parse_check(check)
    diff = diff_revisions(store, base, target, experiments=experiments, metric=metric, only_changed=only_changed)
    code, results = evaluate(diff, checks, require_runs=require_runs) if checks else (0, [])
    histories = Histories({"base": _side_store(store, diff.base), "target": _side_store(store, diff.target)})
    charts = curve_charts(diff, histories, max_curves)
    spark = sparkline_lookup(diff, histories) if sparklines else None

    def render(rows: int, with_charts: bool, cut: bool, metric_rows: MetricRows = ALL_METRIC_ROWS) -> str:
        return compose(
            diff,
            results,
            charts,
            spark,
            precision=precision,
            max_runs=rows,
            with_charts=with_charts,
            marker=marker,
            details_url=details_url,
            cut=cut,
            metric_rows=metric_rows,
        )

    full = render(max_runs if max_runs >= 0 else 10**9, True, False)
    comment, truncated = fit(render, max_runs, limit)
    return PrReport(
        diff=diff,
        checks=tuple(results),
        exit_code=code,
        charts=tuple(charts),
        markdown=full,
        comment=comment,
        truncated=truncated,
        marker=marker,
        details_url=details_url,
        histories=histories,
    )


def _side_store(store: ReadStore, side: Side) -> ReadStore | None:
    try:
        return store_for(store, side)
    except GitrunError:
        return None


# -- writing -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class WrittenReport:
    out_dir: Path
    files: tuple[Path, ...]
    images_skipped: str | None = None  # why no SVG/PNG was written, when none was


def write_report(
    report: PrReport, out_dir: str | Path, *, images: bool = True, pull_request: Mapping[str, Any] | None = None
) -> WrittenReport:
    """Write ``report.md``, ``comment.md``, ``diff.json``, ``charts/*.svg|png|vl.json`` (and
    ``pull-request.json`` when the PR is known, for the fork workflow that posts the comment)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    skipped = None
    image_lines: list[str] = []
    if images and report.charts:
        from gitrun.charts.export import export_chart

        charts_dir = out / "charts"
        try:
            for chart in report.charts:
                written = export_chart(
                    title=f"{chart.experiment}: {chart.metric}",
                    metric=chart.metric,
                    series=[(s.label, s.steps, s.values, s.times) for s in chart.series],
                    colors=[colour for colour, _, _ in SWATCHES[: len(chart.series)]],
                    out_stem=charts_dir / chart.stem,
                )
                files += written
                image_lines.append(
                    f"- {md_escape(chart.experiment)} · {md_escape(chart.metric)}: "
                    + ", ".join(f"[{p.suffix.lstrip('.')}](charts/{p.name})" for p in written)
                )
        except ExportUnavailable as exc:
            skipped = str(exc)
    markdown = report.markdown
    if image_lines:
        markdown = markdown.rstrip() + "\n\n### Charts as images\n\n" + "\n".join(image_lines) + "\n"
    targets = {
        "report.md": markdown,
        "comment.md": report.comment,
        "diff.json": json.dumps(report.to_dict(), indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n",
    }
    if pull_request:
        targets["pull-request.json"] = json.dumps(dict(pull_request), indent=2, sort_keys=True) + "\n"
    for name, text in targets.items():
        path = out / name
        path.write_text(text, encoding="utf-8")
        files.append(path)
    return WrittenReport(out, tuple(sorted(files)), skipped)


# -- posting -----------------------------------------------------------------------------------
_MARKER_LINE = re.compile(r"^<!-- ([A-Za-z0-9][A-Za-z0-9_.:-]{0,63}) -->$")


def marker_of(body: str) -> str:
    """The marker name on the first line of a report comment (the default when there is none)."""
    first = body.split("\n", 1)[0].strip()
    match = _MARKER_LINE.match(first)
    return match.group(1) if match else DEFAULT_MARKER


def post_comment(
    body: str,
    *,
    number: int | None = None,
    expect_head_sha: str | None = None,
    env: Mapping[str, str] | None = None,
    limit: int = COMMENT_LIMIT,
) -> Any:
    """Create or update the pull request's sticky report comment; returns a
    :class:`gitrun.github.PostResult`. ``expect_head_sha``: refuse unless the pull request's head
    is that commit (the fork workflow checks the number read from an artifact this way)."""
    marker = marker_comment(marker_of(body))
    if marker not in body:
        body = f"{marker}\n{body}"
    if comment_length(body) >= limit:
        body = hard_cut(body, limit)
    target = target_from_env(number, env)
    if expect_head_sha:
        head = pull_request_head(target)
        if head != expect_head_sha:
            raise GitHubError(
                f"pull request #{target.number} is at {head[:12]}, not {expect_head_sha[:12]}: "
                "the report was built for another commit; not posting"
            )
    return upsert_comment(target, body, marker)


def read_report_dir(out_dir: str | Path) -> tuple[str, dict[str, Any]]:
    """``comment.md`` (or ``report.md``) of a written report and its ``pull-request.json`` ({} if absent)."""
    out = Path(out_dir)
    for name in ("comment.md", "report.md"):
        path = out / name
        if path.is_file():
            body = path.read_text(encoding="utf-8")
            break
    else:
        raise GitrunError(f"no comment.md or report.md in {out}: run `gitrun report pr --out {out}` first")
    info: dict[str, Any] = {}
    pr_file = out / "pull-request.json"
    if pr_file.is_file():
        try:
            loaded = json.loads(pr_file.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise GitrunError(f"{pr_file}: not JSON ({exc})")
        info = loaded if isinstance(loaded, dict) else {}
    return body, info
