"""Sharing the registry: ``gitrun push`` pushes the event tags the remote lacks, never forced.

A stage tag's counter ``#N`` must be unique per model, but two clones that promote at the same
time both take the next number, and their tags may even have different names (``churn#prod#7``,
``churn#dev#7``), which Git alone would accept. So each counter tag is pushed together with a
*claim*, ``refs/gitrun/registry/<name>/<N>`` pointing at a blob that names the tag, in one
``git push --atomic``: a claim cannot be moved without ``--force`` (it does not point at a
commit), so when another clone took ``N`` first, the whole push is refused. gitrun then re-makes
its unpushed tag with the next free counter (same commit, message, tagger and date; signed again
if it was signed), fetches the remote's tags, and tries again. A registration whose version the
remote already has (another clone registered ``churn@v1.3.0``) is not renumbered: that is an
error telling what to do. A user's plain ``git push --tags`` pushes no claims; gitrun still
checks the remote's tags for a taken counter before it pushes.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gitrun.errors import GitCommandError, RegistryError
from gitrun.redact import redact_credentials
from gitrun.registry.events import make_tag, writing
from gitrun.registry.grammar import Action, TagName, name_to_tag, parse_tag
from gitrun.registry.state import Event, read_events
from gitrun.vcs.git import GitRepo

CLAIMS = "refs/gitrun/registry"
ATTEMPTS = 8


@dataclass(frozen=True)
class PushedTags:
    pushed: tuple[str, ...] = ()
    renumbered: tuple[tuple[str, str], ...] = ()  # (the local name, the name it was pushed as)


@dataclass(frozen=True)
class _Remote:
    tags: Mapping[str, str]  # tag name -> tag object ID
    claims: Mapping[tuple[str, int], str]  # (name as in tags, counter) -> claim blob

    def counters(self, artifact: str) -> set[int]:
        taken = {n for (a, n) in self.claims if a == artifact}
        for name in self.tags:
            parsed = parse_tag(name)
            if parsed is not None and parsed.counter is not None and name_to_tag(parsed.name) == artifact:
                taken.add(parsed.counter)
        return taken


def _remote_state(repo: GitRepo, remote: str) -> _Remote:
    try:
        out = repo.run("ls-remote", remote, "refs/tags/*", f"{CLAIMS}/*")
    except GitCommandError as exc:
        raise RegistryError(
            f"cannot list the registry tags of {redact_credentials(remote)}: {exc.stderr.strip()}"
        ) from None
    tags: dict[str, str] = {}
    claims: dict[tuple[str, int], str] = {}
    for line in out.splitlines():
        sha, _, ref = line.partition("\t")
        if ref.endswith("^{}"):
            continue
        if ref.startswith("refs/tags/"):
            tags[ref[len("refs/tags/") :]] = sha
        elif ref.startswith(CLAIMS + "/"):
            artifact, _, counter = ref[len(CLAIMS) + 1 :].rpartition("/")
            if counter.isdigit():
                claims[(artifact, int(counter))] = sha
    return _Remote(tags, claims)


def push_tags(root: Path, remote: str) -> PushedTags:
    """Push every registry tag ``remote`` lacks (with the claims of their counters); renumber an
    unpushed stage tag whose counter was taken there meanwhile."""
    repo = GitRepo(root)
    if not read_events(root):
        return PushedTags()
    renumbered: list[tuple[str, str]] = []
    for _ in range(ATTEMPTS):
        state = _remote_state(repo, remote)
        events = read_events(root)
        todo = [e for e in events if state.tags.get(e.tag) != e.tag_object]
        if not todo:
            return PushedTags((), tuple(renumbered))
        todo, moved = _renumber_taken(repo, state, todo)
        renumbered += moved
        claims = _claims(repo, todo)
        refs = [f"refs/tags/{e.tag}:refs/tags/{e.tag}" for e in todo] + [f"{sha}:{ref}" for ref, sha in claims.items()]
        proc = repo.run("push", "--atomic", "--porcelain", remote, *refs, check=False)
        if proc.returncode == 0:
            _fetch_tags(repo, remote)
            return PushedTags(tuple(e.tag for e in todo), tuple(renumbered))
        _fetch_tags(repo, remote)  # whatever the other clone pushed; ours are renumbered next round
    raise RegistryError(
        f"could not push the registry's tags to {redact_credentials(remote)} after {ATTEMPTS} attempts (other clones "
        "kept taking the same counters); run `gitrun push` again"
    )


def _renumber_taken(repo: GitRepo, state: _Remote, todo: list[Event]) -> tuple[list[Event], list[tuple[str, str]]]:
    """``todo`` with every counter tag whose number the remote has taken re-made with a free one."""
    out: list[Event] = []
    moved: list[tuple[str, str]] = []
    local_counters: dict[str, set[int]] = {}
    for e in read_events(repo.root):
        if e.counter is not None:
            local_counters.setdefault(name_to_tag(e.name), set()).add(e.counter)
    for e in todo:
        artifact = name_to_tag(e.name)
        clash = e.tag in state.tags  # the same name, another tag object
        if e.counter is None:
            if clash:
                raise RegistryError(_taken_message(e))
            out.append(e)
            continue
        claimed = state.claims.get((artifact, e.counter))
        taken_there = e.counter in state.counters(artifact) and (claimed is None or claimed != _claim_blob_id(repo, e))
        if not (clash or taken_there):
            out.append(e)
            continue
        counter = max(state.counters(artifact) | local_counters.get(artifact, set())) + 1
        fresh = _remake(repo, e, counter)
        local_counters.setdefault(artifact, set()).add(counter)
        moved.append((e.tag, fresh.tag))
        out.append(fresh)
    return out, moved


def _taken_message(e: Event) -> str:
    if e.action == Action.REGISTER:
        return (
            f"version {e.version} of {e.name} was registered on the remote meanwhile (another clone pushed "
            f"{e.tag}); gitrun does not renumber versions. Run `gitrun pull` after deleting your local tag "
            f"(git tag -d '{e.tag}'), then register again"
        )
    return f"the remote already has a different tag {e.tag!r}; delete yours (git tag -d '{e.tag}') and pull"


def _remake(repo: GitRepo, e: Event, counter: int) -> Event:
    """The unpushed tag ``e`` again, with counter ``counter``: same commit, message, tagger and date."""
    name = TagName(
        e.name,
        e.action,
        version=e.version if e.action in (Action.REGISTER, Action.DEREGISTER) else None,
        stage=e.stage,
        counter=counter,
    )
    env = {
        "GIT_COMMITTER_NAME": e.author,
        "GIT_COMMITTER_EMAIL": e.author_email,
        "GIT_COMMITTER_DATE": f"{e.timestamp} {e.tz}",
    }
    with writing(repo.root):
        fresh = make_tag(repo, name, e.commit, e.message, e.trailer, True if e.signed else None, env=env)
        repo.run("tag", "-d", e.tag)
    return fresh


def _claim_text(e: Event) -> bytes:
    return f"gitrun registry claim\ntag {e.tag}\nobject {e.tag_object}\n".encode()


def _claim_blob_id(repo: GitRepo, e: Event) -> str:
    return str(repo.run("hash-object", "--stdin", input=_claim_text(e), text=False).decode().strip())


def _claims(repo: GitRepo, todo: list[Event]) -> dict[str, str]:
    """claim ref -> blob ID (written now) for each counter tag of ``todo`` (one ``git hash-object``)."""
    counted = [e for e in todo if e.counter is not None]
    if not counted:
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, e in enumerate(counted):
            path = os.path.join(tmp, str(i))
            with open(path, "wb") as f:
                f.write(_claim_text(e))
            paths.append(path)
        shas = repo.run("hash-object", "-w", "--stdin-paths", input="\n".join(paths) + "\n").split()
    return {f"{CLAIMS}/{name_to_tag(e.name)}/{e.counter}": sha for e, sha in zip(counted, shas, strict=True)}


def _fetch_tags(repo: GitRepo, remote: str) -> None:
    """The remote's tags into this clone (a tag it has under a name ours holds is left as ours)."""
    repo.run("fetch", "--quiet", "--tags", remote, check=False)
