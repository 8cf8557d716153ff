"""The site's models page: every model, its versions (current stages, source run linked with its
metrics, commit, size) and its full event history with signature status; "Models" in the navigation."""

from __future__ import annotations

from pathlib import Path

from bs4 import BeautifulSoup

from tests.helpers.registry import ok, runs_with_models


def test_the_models_page_lists_versions_runs_and_history(repo: Path, tmp_path: Path) -> None:
    first, second = runs_with_models(repo, [{"auc": 0.8}, {"auc": 0.9125}])
    ok("models", "register", "churn", "--run", first, cwd=repo)
    ok("models", "register", "churn", "--run", second, "-m", "better AUC", cwd=repo)
    ok("models", "promote", "churn", "v0.0.2", "prod", cwd=repo)
    out = tmp_path / "_site"
    ok("site", "build", "--output", str(out), cwd=repo)
    page = BeautifulSoup((out / "models.html").read_text(encoding="utf-8"), "html.parser")
    section = page.find(id="model-churn")
    assert section is not None
    rows = {r["data-version"]: r for r in section.select("table.versions tbody tr")}
    assert set(rows) == {"v0.0.1", "v0.0.2"}
    cells = [c.get_text(strip=True) for c in rows["v0.0.2"].find_all("td")]
    assert cells[1:3] == ["2", "prod"] and "auc 0.9125" in cells[4] and cells[6].endswith("B")
    link = rows["v0.0.2"].find("a")
    assert link["href"] == f"runs/{second}.html" and (out / link["href"]).is_file()
    events = [(r["data-tag"], r.select_one("td.signature").get_text()) for r in section.select("table.events tbody tr")]
    assert events == [("churn#prod#1", "unsigned"), ("churn@v0.0.2", "unsigned"), ("churn@v0.0.1", "unsigned")]
    assert "better AUC" in section.get_text()
    index = BeautifulSoup((out / "index.html").read_text(encoding="utf-8"), "html.parser")
    assert any(a.get_text() == "Models" and a["href"] == "models.html" for a in index.select("header nav a"))
    # the home page tells each model's current stages, linked to its section of the models page
    (home,) = index.select("#models li")
    assert home.a["href"] == "models.html#model-churn"
    assert " ".join(home.get_text().split()) == "churn latest v0.0.2 · prod v0.0.2"


def test_run_pages_link_to_their_registered_versions_and_follow_promotions(repo: Path, tmp_path: Path) -> None:
    (run_id,) = runs_with_models(repo, [{"auc": 0.8}])
    out = tmp_path / "_site"
    ok("site", "build", "--output", str(out), cwd=repo)
    page = out / "runs" / f"{run_id}.html"
    assert BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser").select("tr.registered") == []
    ok("models", "register", "churn", "--run", run_id, cwd=repo)
    ok("models", "promote", "churn", "v0.0.1", "prod", cwd=repo)
    ok("site", "build", "--output", str(out), cwd=repo)  # the run's files did not change: its page does
    (link,) = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser").select("tr.registered a")
    assert link.get_text() == "churn v0.0.1 (prod)" and link["href"] == "../models.html#model-churn"
    models = BeautifulSoup((out / "models.html").read_text(encoding="utf-8"), "html.parser")
    assert models.find(id="model-churn") is not None
