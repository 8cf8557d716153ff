"""The registry shared: DVC reads what gitrun registered (``dvc artifacts get``), ``gitrun push``
pushes the tags and re-numbers a counter another clone took meanwhile, and signed events are
verified against the keys committed on the default branch."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
import yaml

from tests.helpers import run_git
from tests.helpers.registry import DVC, fails, git_out, gto, json_of, ok, runs_with_models


def test_dvc_downloads_the_model_gitrun_registered(dvc_repo: Path, tmp_path: Path) -> None:
    (run_id,) = runs_with_models(dvc_repo, [{"auc": 0.8}])
    ok("models", "register", "churn", "--run", run_id, "--description", "Churn classifier", cwd=dvc_repo)
    ok("models", "promote", "churn", "v0.0.1", "prod", cwd=dvc_repo)
    entry = yaml.safe_load((dvc_repo / "dvc.yaml").read_text())["artifacts"]["churn"]
    assert entry["type"] == "model" and entry["desc"] == "Churn classifier" and "description" not in entry
    out = tmp_path / "downloaded"
    proc = subprocess.run(
        [DVC, "artifacts", "get", str(dvc_repo), "churn", "--stage", "prod", "-o", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (out / "MLmodel").is_file()
    assert (out / "model.pkl").read_bytes() == b"weights of " + run_id.encode()


def _clone(origin: Path, where: Path) -> Path:
    run_git(where.parent, "clone", "-q", str(origin), str(where))
    run_git(where, "config", "user.name", where.name)
    run_git(where, "config", "user.email", f"{where.name}@example.com")
    return where


def test_two_clones_promote_concurrently_and_both_events_survive(repo: Path, origin: Path, tmp_path: Path) -> None:
    (run_id,) = runs_with_models(repo, [{"auc": 0.8}])
    ok("models", "register", "churn", "--run", run_id, cwd=repo)
    out = ok("push", cwd=repo)
    assert "churn@v0.0.1" in out
    alice = _clone(origin, tmp_path / "alice")
    bob = _clone(origin, tmp_path / "bob")
    ok("models", "promote", "churn", "v0.0.1", "prod", cwd=alice)
    ok("models", "promote", "churn", "v0.0.1", "staging", cwd=bob)  # both took counter #1
    assert git_out(alice, "tag", "-l", "churn#*").split() == ["churn#prod#1"]
    assert git_out(bob, "tag", "-l", "churn#*").split() == ["churn#staging#1"]
    results: dict[str, subprocess.CompletedProcess[str]] = {}

    def push(clone: Path) -> None:
        from tests.helpers import gitrun_cli

        results[clone.name] = gitrun_cli("push", cwd=clone)

    threads = [threading.Thread(target=push, args=(c,)) for c in (alice, bob)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.returncode == 0 for r in results.values()), {k: r.stderr for k, r in results.items()}
    remote = sorted(git_out(origin, "tag").split())
    stage_tags = [t for t in remote if "#" in t]
    assert len(stage_tags) == 2 and {t.rsplit("#", 1)[1] for t in stage_tags} == {"1", "2"}, remote
    assert {t.split("#")[1] for t in stage_tags} == {"prod", "staging"}
    for clone in (alice, bob):
        ok("pull", cwd=clone)
    assert json_of("models", "list", cwd=alice)["models"][0]["stages"] == {"prod": "v0.0.1", "staging": "v0.0.1"}
    assert {s: v for s, v in gto("show", "--json", cwd=bob)["churn"]["stage"].items() if v} == {
        "prod": "v0.0.1",
        "staging": "v0.0.1",
    }


def test_a_version_registered_remotely_meanwhile_is_a_clear_error(repo: Path, origin: Path, tmp_path: Path) -> None:
    first, second = runs_with_models(repo, [{"auc": 0.8}, {"auc": 0.9}])
    ok("push", cwd=repo)
    alice = _clone(origin, tmp_path / "alice")
    ok("models", "register", "churn", "--run", first, cwd=alice)
    ok("models", "register", "churn", "--run", second, cwd=repo)  # both are churn@v0.0.1
    ok("push", cwd=alice)
    run_git(repo, "fetch", "-q", "--no-tags", "origin", "main")  # the branches merge (keeping ours)...
    run_git(repo, "merge", "-q", "--no-edit", "-X", "ours", "FETCH_HEAD")
    err = fails("push", cwd=repo)
    assert "version v0.0.1 of churn was registered on the remote meanwhile" in err  # ...the tags cannot
    assert "git tag -d 'churn@v0.0.1'" in err
    assert (
        git_out(origin, "for-each-ref", "--format=%(*objectname)", "refs/tags/churn@v0.0.1").strip()
        == git_out(alice, "rev-parse", "churn@v0.0.1^{commit}").strip()
    )  # never forced


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")
def test_signed_promotions_are_verified_against_the_default_branchs_keys(repo: Path, tmp_path: Path) -> None:
    key = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "alice", "-f", str(key)], check=True)
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "eve", "-f", str(other)], check=True)
    run_git(repo, "config", "gpg.format", "ssh")
    run_git(repo, "config", "user.signingkey", str(key))
    (repo / ".gitrun").mkdir(exist_ok=True)
    (repo / ".gitrun" / "allowed_signers").write_text(f"test@example.com {(key.with_suffix('.pub')).read_text()}")
    (repo / "pyproject.toml").write_text('[tool.gitrun.registry]\nprotected_stages = ["prod"]\n')
    run_git(repo, "add", ".gitrun/allowed_signers", "pyproject.toml")
    run_git(repo, "commit", "-qm", "trust alice")
    (run_id,) = runs_with_models(repo, [{"auc": 0.8}])
    ok("models", "register", "churn", "--run", run_id, cwd=repo)
    err = fails("models", "promote", "churn", "v0.0.1", "prod", cwd=repo)
    assert "stage 'prod' is protected" in err and "--sign" in err
    ok("models", "promote", "churn", "v0.0.1", "prod", "--sign", cwd=repo)
    ok("models", "promote", "churn", "v0.0.1", "dev", "--sign-key", str(other), cwd=repo)
    history = {e["tag"]: e["signature"] for e in json_of("models", "history", "churn", "--verify", cwd=repo)["events"]}
    assert history["churn#prod#1"]["status"] == "verified"
    assert history["churn#dev#2"]["status"] == "bad" and "does not list" in history["churn#dev#2"]["detail"]
    assert history["churn@v0.0.1"]["status"] == "unsigned"
    # a branch that adds eve's key to its own copy does not make her tags trusted
    run_git(repo, "checkout", "-qb", "feature")
    with (repo / ".gitrun" / "allowed_signers").open("a") as f:
        f.write(f"eve@example.com {(other.with_suffix('.pub')).read_text()}")
    run_git(repo, "commit", "-qam", "trust eve")
    history = {e["tag"]: e["signature"] for e in json_of("models", "history", "churn", "--verify", cwd=repo)["events"]}
    assert history["churn#dev#2"]["status"] == "bad"
    err = fails("models", "promote", "churn", "v0.0.1", "prod", "--force", "--sign-key", str(other), cwd=repo)
    assert "not trusted" in err and "nothing was tagged" in err
    assert git_out(repo, "tag", "-l", "churn#prod*").split() == ["churn#prod#1"]


def _gpg_key(home: Path, uid: str) -> str:
    """A passphrase-less OpenPGP signing key made in ``home``; its fingerprint."""
    home.mkdir(mode=0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run(
        ["gpg", "--batch", "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never"],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    listing = subprocess.run(
        ["gpg", "--list-keys", "--with-colons"], env=env, check=True, capture_output=True, text=True
    )
    return next(line.split(":")[9] for line in listing.stdout.splitlines() if line.startswith("fpr"))


@pytest.mark.skipif(shutil.which("gpg") is None, reason="needs gpg")
def test_gpg_signed_events_are_verified_against_the_committed_keys(repo: Path, tmp_path: Path) -> None:
    home = tmp_path / "gnupg"
    alice = _gpg_key(home, "Alice <alice@example.com>")
    mallory = _gpg_key(tmp_path / "other", "Mallory <m@example.com>")
    env = {"GNUPGHOME": str(home)}
    exported = subprocess.run(
        ["gpg", "--armor", "--export", alice], env={**os.environ, **env}, check=True, capture_output=True
    ).stdout
    (repo / ".gitrun").mkdir(exist_ok=True)
    (repo / ".gitrun" / "trusted_keys.asc").write_bytes(exported)
    run_git(repo, "add", ".gitrun/trusted_keys.asc")
    run_git(repo, "commit", "-qm", "trust alice's OpenPGP key")
    (run_id,) = runs_with_models(repo, [{"auc": 0.8}])
    ok("models", "register", "churn", "--run", run_id, "--sign-key", alice, cwd=repo, env=env)
    other = {"GNUPGHOME": str(tmp_path / "other")}
    ok("models", "promote", "churn", "v0.0.1", "prod", "--sign-key", mallory, cwd=repo, env=other)
    history = {e["tag"]: e["signature"] for e in json_of("models", "history", "--verify", cwd=repo)["events"]}
    assert history["churn@v0.0.1"]["status"] == "verified"
    assert history["churn#prod#1"]["status"] == "bad" and "does not hold" in history["churn#prod#1"]["detail"]
