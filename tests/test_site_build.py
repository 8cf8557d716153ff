"""The site's pages parsed with BeautifulSoup: right runs, values and links; specs compared as dicts;
reproducible and incremental builds; the template context contract and overrides."""

from __future__ import annotations

# ruff: noqa: F811  (pytest fixtures imported from test_site_helpers are redefined as arguments)
import hashlib
import os
import re
import shutil
from dataclasses import fields
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from test_site_helpers import (  # noqa: F401 - fixtures
    EPOCH,
    REPO_URL,
    XSS_PARAM,
    XSS_RUN_NAME,
    built_site,
    experiment_table,
    git,
    load_data,
    settle,
    site_repo,
    soup_of,
    spec_of,
)

from gitrun import charts
from gitrun.site.build import BuildOptions, build_site
from gitrun.store import Store

Site = tuple[Path, dict[str, Any]]


def _build(repo: Path, out: Path, monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> Any:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    return build_site(Store(repo / ".gitrun"), BuildOptions(output=out, strict=True, **kwargs))


def _tree(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# -- pages ---------------------------------------------------------------------------------
def test_home_lists_experiments_with_best_values(built_site: Site) -> None:
    out, facts = built_site
    soup = soup_of(out / "index.html")
    rows = {tr["data-experiment"]: tr for tr in soup.select("#experiments tbody tr")}
    assert set(rows) == {facts["alpha"], facts["beta"]}
    alpha = rows[facts["alpha"]].find_all("td")
    assert alpha[0].a["href"] == f"experiments/{facts['alpha']}.html"
    assert alpha[0].get_text(strip=True) == "alpha"
    assert alpha[1].get_text(strip=True) == "4"
    assert "val_acc" in alpha[2].get_text() and "(max)" in alpha[2].get_text()
    assert alpha[3].get_text(strip=True) == "0.95"
    assert alpha[5].a["href"] == f"runs/{facts['runs']['long']}.html"
    beta = rows[facts["beta"]].find_all("td")
    assert beta[2].get_text(" ", strip=True).startswith("train/loss")  # no primary metric: the first one
    assert beta[3].get_text(strip=True) == "0.5"  # loss is minimised: latest of 1/(1+i) over 2 steps
    footer = soup.find("footer").get_text(" ", strip=True)
    assert facts["commit2"][:10] in footer
    assert "2026-05-28 20:26:40 UTC" in footer  # SOURCE_DATE_EPOCH, not the build's clock


def test_every_relative_link_resolves(built_site: Site) -> None:
    out, _ = built_site
    pages = sorted(out.rglob("*.html"))
    assert len(pages) == 4 + 2 + 5  # home, compare, history, models; 2 experiments; 5 runs
    checked = 0
    for page in pages:
        soup = soup_of(page)
        for tag, attr in (("a", "href"), ("script", "src"), ("link", "href")):
            for node in soup.find_all(tag):
                url = node.get(attr)
                if not url or url.startswith(("#", "data:")):
                    continue
                parts = urlsplit(url)
                if parts.scheme:
                    assert parts.scheme == "https" and parts.netloc == "github.com", url  # forge links only
                    continue
                assert not url.startswith("/"), f"absolute link {url} in {page}"
                target = (page.parent / unquote(parts.path)).resolve()
                assert target.is_file(), f"{page.relative_to(out)} links to missing {url}"
                checked += 1
    assert checked > 50


def test_run_page_values_links_and_artifacts(built_site: Site) -> None:
    out, facts = built_site
    run_id = facts["runs"]["good"]
    soup = soup_of(out / "runs" / f"{run_id}.html")
    assert soup.find("h1").get_text(" ", strip=True).startswith("good")
    info = {tr.th.get_text(strip=True): tr.td for tr in soup.select("#run-info tr")}
    assert info["run ID"].get_text(strip=True) == run_id
    assert info["experiment"].a["href"] == f"../experiments/{facts['alpha']}.html"
    commit = info["commit"].a  # linked to GitHub
    assert commit["href"].startswith("https://github.com/acme/vision/commit/")
    assert info["duration"].get_text(strip=True) == "3.5 s"
    params = {tr.th.get_text(): tr.td.get_text() for tr in soup.select("table.params tr")}
    assert params == {"layers": "3", "lr": "0.01", "opt": "adam"}
    metrics = {
        tr["data-metric"]: [td.get_text(strip=True) for td in tr.find_all("td")]
        for tr in soup.select("#metrics-table tbody tr")
    }
    assert metrics["val_acc"][:6] == ["val_acc", "0.91", "0.5", "0.91", "2", "3"]
    csv_href = soup.select_one('#metrics-table tr[data-metric="train/loss"] a')["href"]
    csv = (out / "runs" / unquote(csv_href)).resolve().read_text()
    assert csv.splitlines()[0] == "step,timestamp,value"
    assert [line.split(",")[0] for line in csv.splitlines()[1:]] == ["0", "1", "2"]
    artifacts = {tr.td.get_text(strip=True): tr for tr in soup.select("#artifacts-table tbody tr")}
    assert set(artifacts) == {"big.bin", "logs/train.tmp", "model.pkl", "notes/readme.txt", "report.html"}
    readme = artifacts["notes/readme.txt"].a["href"]
    assert (out / "runs" / readme).resolve().read_text() == "hello from the run\n"
    assert artifacts["report.html"].a["href"].endswith("report.html.txt")  # never served as HTML
    assert artifacts["big.bin"].a is None and "not copied" in artifacts["big.bin"].get_text()
    dvc = artifacts["model.pkl"].get_text(" ", strip=True)
    assert "0123456789abcdef0123456789abcdef" in dvc and "117.7 MB" in dvc
    assert (
        f"dvc get https://github.com/acme/vision .gitrun/experiments/{facts['alpha']}/runs/{run_id}/artifacts/model.pkl --rev main"
        in dvc
    )
    code = soup.select_one("#code pre").get_text()
    assert f"gitrun runs checkout {run_id}" in code and "code.diff" in soup.select_one("#code").get_text()


def test_hostile_strings_are_text(built_site: Site) -> None:
    out, facts = built_site
    run_id = facts["runs"][XSS_RUN_NAME]
    html = (out / "runs" / f"{run_id}.html").read_text()
    soup = soup_of(out / "runs" / f"{run_id}.html")
    assert soup.find("h1").contents[0].strip() == XSS_RUN_NAME
    assert "<script>alert" not in html and "<img src=x" not in html
    assert {tr.th.get_text(): tr.td.get_text() for tr in soup.select("table.params tr")}["opt"] == XSS_PARAM
    note = soup.select_one("#note")
    assert note.find("strong").get_text() == "good"
    assert note.find("script") is None and note.find("img") is None
    for a in note.find_all("a"):
        assert not (a.get("href") or "").lower().startswith("javascript")
    for script in soup.find_all("script"):
        assert script.get("src") or script.get("type") == "application/json"  # no inline code at all
    data = (out / "data" / "runs" / f"{run_id}.js").read_text()
    assert "<" not in data and ">" not in data  # escaped as \u003c / \u003e
    assert load_data(out / "data" / "runs" / f"{run_id}.js")["name"] == XSS_RUN_NAME


def test_experiment_data_and_specs(built_site: Site) -> None:
    out, facts = built_site
    data = load_data(out / "data" / "experiments" / f"{facts['alpha']}.js")
    columns = {c["id"]: c for c in data["table"]["columns"]}
    values = experiment_table(out, facts["alpha"])
    assert values["run_name"] == ["long", XSS_RUN_NAME, "bad", "good"]  # newest first
    assert values["p:lr"] == ["0.05", "0.001", "0.1", "0.01"]
    assert values["m:val_acc"] == [0.95, 0.8, 0.6, 0.91]
    assert values["m:val_acc:max"][0] == 0.99
    assert columns["m:val_acc:max"]["hidden"] and not columns["m:val_acc"]["hidden"]
    commits = values["commit"]
    assert len(set(commits)) == 1 and len(commits[0]) == 40
    assert [r["run"].split(" ·")[0] for r in data["best"]["runs"]] == ["long", "good", XSS_RUN_NAME, "bad"]
    soup = soup_of(out / "experiments" / f"{facts['alpha']}.html")
    specs = spec_of(soup)
    assert specs["best"] == charts.metric_curves(title="val_acc", by_run=True, direction="max")
    dims = ["params.layers", "params.lr", "params.opt", "metrics.val_acc", "metrics.train/loss"]
    assert specs["pcp"] == charts.parallel_coordinates(dims, color_title="val_acc")
    assert specs["scatter"] == charts.param_scatter(["layers", "lr"], "val_acc")
    assert {r["param"] for r in data["scatter"]} == {"layers", "lr"}
    assert {t["dim"] for t in data["pcp"]["ticks"]} == set(dims)
    assert soup.find("script", src=f"../data/experiments/{facts['alpha']}.js") is not None


def test_run_charts_are_downsampled_keeping_extremes(built_site: Site) -> None:
    out, facts = built_site
    run_id = facts["runs"]["long"]
    series = load_data(out / "data" / "runs" / f"{run_id}.js")["series"]["val_acc"]
    assert series["n"] == 2000 and len(series["v"]) <= 500
    assert 0.99 in series["v"] and series["step"][0] == 0 and series["step"][-1] == 1999 and series["v"][-1] == 0.95
    csv = (out / "data" / "runs" / run_id / "val_acc.csv").read_text().splitlines()
    assert len(csv) == 2001  # the full series stays downloadable
    soup = soup_of(out / "runs" / f"{run_id}.html")
    specs = spec_of(soup)
    charts_by_metric = {div["data-metric"]: div["data-spec"] for div in soup.select(".chart[data-kind=metric]")}
    assert specs[charts_by_metric["val_acc"]] == charts.metric_curves(title="val_acc", by_run=False, direction="max")
    assert specs[charts_by_metric["train/loss"]] == charts.metric_curves(
        title="train/loss", by_run=False, direction="min"
    )
    assert "2000 points, drawn downsampled" in soup.get_text()


def test_history_page(built_site: Site) -> None:
    out, facts = built_site
    soup = soup_of(out / "history.html")
    rows = soup.select("#history-table tbody tr")
    assert [tr["data-commit"] for tr in rows] == [facts["commit2"], facts["commit1"]]
    headers = [th.get_text(strip=True) for th in soup.select("#history-table thead th")]
    assert "alpha · val_acc" in headers and "beta vision · train/loss" in headers
    col = headers.index("alpha · val_acc")
    assert [tr.find_all("td")[col].get_text(strip=True) for tr in rows] == ["0.95", "0.91"]
    assert rows[1].find_all("td")[col].a["href"] == f"runs/{facts['runs']['good']}.html"
    assert spec_of(soup)["history"] == charts.history_line()
    data = spec_of(soup, "gitrun-history")
    assert {(d["series"], d["value"]) for d in data} >= {("alpha · val_acc", 0.91), ("alpha · val_acc", 0.95)}


def test_compare_page_spec(built_site: Site) -> None:
    out, _ = built_site
    soup = soup_of(out / "compare.html")
    assert spec_of(soup)["compare"] == charts.metric_curves(title=None, by_run=True)
    assert spec_of(soup)["bars"] == charts.metric_bars()
    assert soup.find("table", id="compare-params") is not None


# -- build behaviour -----------------------------------------------------------------------
def test_builds_are_byte_identical(site_repo: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo, _ = site_repo
    # Copied run folders are new: one that settles (2 s) between the builds is keyed differently in
    # the manifest (seen in a fresh-clone run). Settled first, as a store is between two builds.
    settle(repo)
    _build(repo, tmp_path / "one", monkeypatch)
    _build(repo, tmp_path / "two", monkeypatch, workers=1)
    one, two = _tree(tmp_path / "one"), _tree(tmp_path / "two")
    assert one == two
    for path in (tmp_path / "one").rglob("*"):
        if path.is_file() and path.suffix in (".html", ".js", ".json"):
            assert str(repo) not in path.read_text(encoding="utf-8"), f"{path} leaks a local path"


def test_rebuild_after_one_new_run_rewrites_only_what_depends_on_it(
    site_repo: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gitrun

    src, facts = site_repo
    repo = tmp_path / "repo"
    shutil.copytree(src, repo, symlinks=True)
    settle(repo)  # as between two builds: folders written in the last two seconds are read again
    out = tmp_path / "_site"
    first = _build(repo, out, monkeypatch)
    assert first.rebuilt_runs == 5
    again = _build(repo, out, monkeypatch)
    assert again.written == () and again.rebuilt_runs == 0
    client = gitrun.Client(repo / ".gitrun")
    new = client.create_run(facts["beta"], run_name="fresh").info.run_id
    client.log_metric(new, "train/loss", 0.1, step=0)
    client.set_terminated(new, "FINISHED")
    result = _build(repo, out, monkeypatch)
    assert result.rebuilt_runs == 1
    written = set(result.written)
    assert f"runs/{new}.html" in written and f"data/runs/{new}.js" in written
    for other in facts["runs"].values():
        assert not any(other in path for path in written), f"{other}'s files were rewritten"
    allowed = re.compile(rf"^(index|compare|history|models)\.html$|^experiments/|^data/experiments/|.*{new}.*")
    assert all(allowed.match(path) for path in written), written
    assert f"experiments/{facts['alpha']}.html" in written  # the footer now says "with uncommitted runs"
    # A deleted run's files go away.
    client.delete_run(new)
    result = _build(repo, out, monkeypatch)
    assert f"runs/{new}.html" in result.removed and not (out / "runs" / f"{new}.html").exists()


def test_build_at_a_revision(site_repo: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo, facts = site_repo
    result = _build(repo, tmp_path / "old", monkeypatch, rev=facts["commit1"][:12])
    assert result.runs == 3
    soup = soup_of(tmp_path / "old" / "index.html")
    assert "revision" in soup.find("footer").get_text() and facts["commit1"][:10] in soup.find("footer").get_text()
    assert not (tmp_path / "old" / "runs" / f"{facts['runs']['long']}.html").exists()
    # a run's page at a revision reads its files from Git: series, artifacts and code.diff as in the work tree
    good = facts["runs"]["good"]
    now = _build(repo, tmp_path / "now", monkeypatch)
    assert now.runs >= 3
    pages = {name: soup_of(tmp_path / name / "runs" / f"{good}.html") for name in ("old", "now")}

    def shown(page: Any) -> tuple[list[str], list[str]]:
        charts = sorted(str(div["data-metric"]) for div in page.select(".chart[data-kind=metric]"))
        return charts, sorted(a.get_text(strip=True) for a in page.select("#artifacts a") if a.get_text(strip=True))

    assert shown(pages["old"]) == shown(pages["now"])
    assert shown(pages["old"])[0] == ["train/loss", "val_acc"] and "readme.txt" in " ".join(shown(pages["old"])[1])


def test_refuses_to_write_into_a_repository(site_repo: Site) -> None:
    from gitrun.errors import GitrunError

    repo, _ = site_repo
    with pytest.raises(GitrunError, match="Git repository"):
        build_site(Store(repo / ".gitrun"), BuildOptions(output=repo))


# -- templates -----------------------------------------------------------------------------
def test_templates_use_exactly_their_context_fields() -> None:
    from jinja2 import meta

    from gitrun.site import resources
    from gitrun.site.context import PAGE_CONTEXTS

    env = resources.make_environment()
    folder = resources.templates_dir()

    def names(template: str) -> set[str]:
        return set(meta.find_undeclared_variables(env.parse((folder / template).read_text())))

    shared = names("base.html") | names("_nav.html") | names("_footer.html")
    assert shared == {"site"}
    for template, context in PAGE_CONTEXTS.items():
        declared = {f.name for f in fields(context)}
        used = names(template) | {"site"}
        assert used == declared, f"{template}: uses {sorted(used - declared)}, never uses {sorted(declared - used)}"


def test_template_dir_overrides_and_extends_default(
    site_repo: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, facts = site_repo
    custom = tmp_path / "templates"
    custom.mkdir()
    (custom / "run.html").write_text(
        '{% extends "default:run.html" %}{% block title %}Custom · {{ run.name }}{% endblock %}', encoding="utf-8"
    )
    (custom / "_footer.html").write_text("<footer>our footer</footer>", encoding="utf-8")
    out = tmp_path / "_site"
    _build(repo, out, monkeypatch, template_dir=custom)
    soup = soup_of(out / "runs" / f"{facts['runs']['good']}.html")
    assert soup.title.get_text() == "Custom · good"
    assert soup.find("footer").get_text() == "our footer"
    assert soup.select_one("#metrics-table") is not None  # the rest of the default page


# -- helpers ---------------------------------------------------------------------------------
def test_script_json_cannot_close_a_script() -> None:
    from gitrun.site.safe import js_assign, script_json

    text = str(script_json({"x": "</script><!-- \u2028 & '"}))
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text and "'" not in text
    assert "\\u003c/script\\u003e" in text
    assert js_assign("k", {"a": 1}) == 'window.GITRUN_DATA=window.GITRUN_DATA||{};window.GITRUN_DATA["k"]={"a":1};\n'


@pytest.mark.parametrize(
    ("remote", "expected"),
    [
        (REPO_URL, "https://github.com/acme/vision/commit/"),
        ("git@github.com:acme/vision.git", "https://github.com/acme/vision/commit/"),
        ("https://gitlab.com/group/sub/proj", "https://gitlab.com/group/sub/proj/-/commit/"),
        ("ssh://git@gitlab.example.org:2222/g/p.git", "https://gitlab.example.org/g/p/-/commit/"),
        ("/srv/git/local.git", None),
        ("https://example.org/x/y", None),
    ],
)
def test_forge_commit_links(remote: str, expected: str | None) -> None:
    from gitrun.site.safe import forge_commit_url

    sha = "a" * 40
    assert forge_commit_url(remote, sha) == (expected + sha if expected else None)
    assert forge_commit_url(remote, "not-a-sha") is None


def test_file_slugs_are_safe_and_distinct() -> None:
    from gitrun.site.safe import file_slug

    keys = ["loss", "train/loss", "train_loss", "a:b c", "../x", ".hidden"]
    slugs = [file_slug(k) for k in keys]
    assert len(set(slugs)) == len(keys)
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", s) and not s.startswith(".") for s in slugs)
    assert file_slug("loss") == "loss"


def test_render_note_sanitizes() -> None:
    from gitrun.site.safe import render_note

    html = render_note(
        "# T\n\n[x](javascript:alert(1)) [ok](https://example.org) <script>x()</script> <b onclick=y()>b</b>"
    )
    assert "javascript:" not in html and "<script" not in html and "onclick" not in html
    assert 'href="https://example.org"' in html and "<h1>T</h1>" in html


def test_outputs_never_name_absolute_paths(built_site: Site) -> None:
    out, _ = built_site
    manifest = (out / ".gitrun-site.json").read_text()
    assert str(out) not in manifest and os.sep + "tmp" not in manifest
