"""The models page: every registered model (docs/registry.md), its versions with their current
stages, source runs (linked to their pages, with their metrics), commits and sizes, and each
model's full event history: who, when, what, the message, and whether its signature is trusted.

Read from the repository's tags (:func:`gitrun.registry.state.load`: one ``git for-each-ref``);
signatures are checked against the keys on the default branch (:class:`gitrun.registry.verify.Verifier`).
"""

from __future__ import annotations

from pathlib import Path

from gitrun.formatting import format_size, format_time
from gitrun.registry.index import read_index
from gitrun.registry.state import ModelState, VersionState, load
from gitrun.registry.verify import Verifier
from gitrun.site import safe
from gitrun.site.builder import Builder
from gitrun.site.context import ModelCard, ModelEventRow, ModelsContext, ModelVersionRow
from gitrun.store import RunRecord
from gitrun.vcs.git import GitRepo

MAX_METRICS = 4


def _size(repo: GitRepo, version: VersionState) -> str:
    """The model folder's size at the tagged commit (a DVC pointer counts its file's size)."""
    if not version.path:
        return ""
    out = repo.run("ls-tree", "-r", "-l", version.commit, "--", version.path, check=False).stdout
    total, pointers = 0, []
    for line in out.splitlines():
        meta, _, path = line.partition("\t")
        parts = meta.split()
        if len(parts) == 4 and parts[3].isdigit():
            if path.endswith(".dvc"):
                pointers.append(f"{version.commit}:{path}")
            else:
                total += int(parts[3])
    for blob in repo.read_blobs(pointers).values() if pointers else ():
        for line in blob.decode("utf-8", "replace").splitlines():
            if line.strip().startswith("size:") and line.split(":", 1)[1].strip().isdigit():
                total += int(line.split(":", 1)[1].strip())
    return format_size(total)


def _metrics(record: RunRecord | None) -> str:
    if record is None:
        return ""
    items = sorted(record.summaries.items())[:MAX_METRICS]
    return " · ".join(f"{key} {safe.format_number(summary.latest)}" for key, summary in items)


def _card(builder: Builder, repo: GitRepo, model: ModelState, mlflow_name: str | None, verifier: Verifier) -> ModelCard:
    records = {r.run_id: r for r in builder.snapshot.all_records}
    remote = builder.snapshot.remote_url
    versions = []
    for v in model.versions:
        if not v.registered:
            continue
        record = records.get(v.run_id or "")
        versions.append(
            ModelVersionRow(
                version=v.version,
                number=v.number,
                stages=", ".join(v.stages),
                active=v.active,
                run_id=v.run_id,
                run_name=(record.run_name or record.run_id) if record else (v.run_id or ""),
                run_href=f"runs/{v.run_id}.html" if record is not None else None,
                metrics=_metrics(record),
                commit=v.commit[:10],
                commit_url=safe.forge_commit_url(remote, v.commit),
                size=_size(repo, v),
            )
        )
    events = []
    for e in reversed(model.events):
        status = verifier.verify(e)
        events.append(
            ModelEventRow(
                date=format_time(e.timestamp * 1000),
                event=e.action.value,
                version=e.version or "",
                stage=e.stage or "",
                author=e.author,
                message=e.message,
                tag=e.tag,
                signature=status.status,
                signature_detail=status.detail,
            )
        )
    latest = model.latest
    return ModelCard(
        name=model.name,
        mlflow_name=mlflow_name,
        latest=latest.version if latest else None,
        stages=tuple(model.stages.items()),
        deprecated=model.deprecated,
        versions=tuple(versions),
        events=tuple(events),
    )


def build(builder: Builder) -> None:
    root: Path | None = builder.snapshot.repo_root
    cards: list[ModelCard] = []
    message = ""
    if root is None:
        message = "The store is not in a Git repository: the model registry lives in a repository's tags."
    else:
        registry = load(root)
        entries = read_index(root)
        repo = GitRepo(root)
        with Verifier(root) as verifier:
            for name, model in registry.models.items():
                entry = entries.get(name)
                cards.append(_card(builder, repo, model, entry.mlflow_name if entry else None, verifier))
        if not cards:
            message = "No registered model yet: gitrun models register NAME --run RUN_ID (docs/registry.md)."
    context = ModelsContext(site=builder.site_info("models", 0), models=tuple(cards), message=message)
    builder.writer.begin("models", "")
    builder.writer.write("models.html", builder.render("models.html", context))
    builder.writer.end()
