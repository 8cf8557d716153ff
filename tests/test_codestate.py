"""The code state of a run: the dirty diff kept at ``start_run``, and ``gitrun runs checkout``."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import gitrun
from tests.helpers import git_state, gitrun_cli, python_ok, run_git, run_python, work_files
from tests.helpers.secrets import secret_found

SECRET = "sk-live-51HnotARealKeyButSecretEnough"
START = """
import json, gitrun
with gitrun.start_run() as run:
    gitrun.log_metric("val_acc", 0.5)
print(json.dumps({"run_id": run.info.run_id, "tags": gitrun.get_run(run.info.run_id).data.tags}))
"""


def start_run(repo: Path, env: dict[str, str] | None = None) -> tuple[str, dict[str, str], Path]:
    out = json.loads(python_ok(START, repo, env).strip().splitlines()[-1])
    run_dir = next((repo / ".gitrun" / "experiments").glob(f"*/runs/{out['run_id']}"))
    return out["run_id"], out["tags"], run_dir


def kept_diff(repo: Path, tags: dict[str, str]) -> Path:
    """The store's copy of a run's diff, which its tag names (kept once per distinct diff)."""
    return repo / ".gitrun" / "code" / f"{tags['gitrun.git.diff.sha256']}.diff"


def make_dirty(repo: Path) -> None:
    (repo / "train.py").write_bytes(b"import helper\nprint('training', helper.LR)\n")  # unstaged edit
    (repo / "helper.py").write_bytes(b"LR = 0.05\n")  # untracked new module
    (repo / "data").mkdir()
    (repo / "data" / "weights.bin").write_bytes(bytes(range(256)) * 4)  # untracked binary file
    (repo / "README.md").unlink()  # tracked file deleted
    (repo / "config.yaml").write_bytes(b"epochs: 3\n")
    run_git(repo, "add", "config.yaml")  # staged new file
    (repo / "pkg").mkdir()
    (repo / "pkg" / "__init__.py").write_bytes(b"")  # empty untracked file
    (repo / "pkg" / "données é.py").write_bytes("NOM = 'é'\n".encode())  # non-ASCII name with a space
    (repo / "run.sh").write_bytes(b"#!/bin/sh\npython train.py\n")
    (repo / "run.sh").chmod(0o755)  # executable bit
    (repo / ".env").write_text(f"API_KEY={SECRET}\n")  # secrets: never captured
    (repo / "deploy.pem").write_text(f"-----BEGIN PRIVATE KEY-----\n{SECRET}\n")


def test_dirty_tree_keeps_a_diff_without_secrets(repo: Path) -> None:
    (repo / "credentials.json").write_text('{"token": "placeholder"}\n')
    run_git(repo, "add", "credentials.json")
    run_git(repo, "commit", "-q", "-m", "credentials template")
    (repo / "credentials.json").write_text(f'{{"token": "{SECRET}"}}\n')  # tracked secrets file, edited
    make_dirty(repo)
    _, tags, run_dir = start_run(repo)

    diff = kept_diff(repo, tags).read_bytes()
    assert not (run_dir / "code.diff").exists()  # not copied into the run's folder
    assert tags["gitrun.git.diff"].startswith("code.diff")
    assert ".env" in tags["gitrun.git.diff"] and "deploy.pem" in tags["gitrun.git.diff"]
    assert "credentials.json" in tags["gitrun.git.diff"]
    assert tags["mlflow.source.git.commit"] == run_git(repo, "rev-parse", "HEAD").stdout.strip()
    assert SECRET.encode() not in diff
    assert b"API_KEY" not in diff and b".env" not in diff and b"deploy.pem" not in diff
    assert b"credentials.json" not in diff
    assert b"import helper" in diff and b"LR = 0.05" in diff  # tracked edit and untracked module
    assert b"epochs: 3" in diff and b"README.md" in diff and b"weights.bin" in diff
    assert b".gitrun" not in diff  # the store itself is never part of the code


def test_runs_checkout_reproduces_the_dirty_code_byte_for_byte(repo: Path, tmp_path: Path) -> None:
    make_dirty(repo)
    run_id, _, _ = start_run(repo)
    expected = {k: v for k, v in work_files(repo).items() if k not in (".env", "deploy.pem")}
    before, files, head = git_state(repo), work_files(repo), run_git(repo, "rev-parse", "HEAD").stdout
    dest = tmp_path / "repro"

    proc = gitrun_cli("runs", "checkout", run_id[:10], str(dest), cwd=repo)

    assert proc.returncode == 0, proc.stderr
    assert str(dest) in proc.stdout
    assert work_files(dest) == expected
    assert not (dest / "README.md").exists() and not (dest / ".env").exists()
    assert (dest / "data" / "weights.bin").read_bytes() == bytes(range(256)) * 4
    assert os.access(dest / "run.sh", os.X_OK)
    # The user's tree, index and branch are untouched; the checkout is a separate worktree.
    assert git_state(repo) == before and work_files(repo) == files
    assert run_git(repo, "rev-parse", "HEAD").stdout == head
    assert str(dest) in run_git(repo, "worktree", "list").stdout
    assert run_git(dest, "rev-parse", "HEAD").stdout == head

    # A second checkout into a non-empty directory is refused.
    proc = gitrun_cli("runs", "checkout", run_id, str(dest), cwd=repo)
    assert proc.returncode != 0 and "not empty" in proc.stderr


def test_checkout_of_a_run_from_an_older_commit(repo: Path, tmp_path: Path) -> None:
    (repo / "train.py").write_text("print('experiment A')\n")
    run_id, _, _ = start_run(repo)
    old_head = run_git(repo, "rev-parse", "HEAD").stdout
    # The user moves on: commits other code; the run's code is still recoverable.
    (repo / "train.py").write_text("print('experiment B')\n")
    run_git(repo, "commit", "-q", "-am", "B")
    dest = tmp_path / "repro"

    proc = gitrun_cli("runs", "checkout", run_id, str(dest), cwd=repo)

    assert proc.returncode == 0, proc.stderr
    assert (dest / "train.py").read_text() == "print('experiment A')\n"
    assert run_git(dest, "rev-parse", "HEAD").stdout == old_head
    assert (repo / "train.py").read_text() == "print('experiment B')\n"


def test_diff_over_the_size_cap_is_skipped_and_says_so(repo: Path, tmp_path: Path) -> None:
    (repo / "train.py").write_text("print('edited')\n" * 50)
    run_id, tags, run_dir = start_run(repo, env={"GITRUN_CODE_DIFF_MAX_BYTES": "200"})

    assert not (run_dir / "code.diff").exists() and not (repo / ".gitrun" / "code").exists()
    assert "gitrun.git.diff.sha256" not in tags
    assert tags["gitrun.git.diff"].startswith("skipped")
    assert "200" in tags["gitrun.git.diff"] and "GITRUN_CODE_DIFF_MAX_BYTES" in tags["gitrun.git.diff"]
    proc = gitrun_cli("runs", "checkout", run_id, str(tmp_path / "repro"), cwd=repo)
    assert proc.returncode != 0 and "not kept" in proc.stderr
    assert not (tmp_path / "repro").exists() or not any((tmp_path / "repro").iterdir())

    # A size with a unit works as well.
    _, tags, run_dir = start_run(repo, env={"GITRUN_CODE_DIFF_MAX_BYTES": "1KB"})
    assert kept_diff(repo, tags).exists() and tags["gitrun.git.diff"] == "code.diff"


def test_clean_tree_has_no_diff_and_checkout_gives_the_commit(repo: Path, tmp_path: Path) -> None:
    run_id, tags, run_dir = start_run(repo)

    assert not (run_dir / "code.diff").exists() and not (repo / ".gitrun" / "code").exists()
    assert "gitrun.git.diff" not in tags and "gitrun.git.diff.sha256" not in tags
    proc = gitrun_cli("runs", "checkout", run_id, str(tmp_path / "repro"), cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert work_files(tmp_path / "repro") == work_files(repo)


def test_one_diff_per_process_shared_by_its_runs(repo: Path) -> None:
    (repo / "train.py").write_text("print('dirty')\n")
    code = """
import json, gitrun
ids = []
for _ in range(3):
    with gitrun.start_run() as run:
        pass
    ids.append(run.info.run_id)
print(json.dumps(ids))
"""
    ids = json.loads(python_ok(code, repo).strip().splitlines()[-1])
    kept = {gitrun.Client(str(repo)).get_run(i).data.tags["gitrun.git.diff.sha256"] for i in ids}
    assert len(kept) == 1 and b"print('dirty')" in (repo / ".gitrun" / "code" / f"{kept.pop()}.diff").read_bytes()


def test_code_diff_is_committed_with_the_run(repo: Path) -> None:
    (repo / "train.py").write_text("print('dirty')\n")
    _, tags, _ = start_run(repo)
    before = git_state(repo)
    proc = gitrun_cli("commit", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    committed = run_git(repo, "ls-tree", "-r", "--name-only", "HEAD").stdout.split(os.linesep)
    assert f".gitrun/code/{tags['gitrun.git.diff.sha256']}.diff" in committed  # the shared file the run names
    assert git_state(repo) == before  # the dirty train.py is still dirty, not committed


# -- secrets by content (issue 9, item 11) -------------------------------------------------------
def _token(alphabet: str, n: int) -> str:
    import secrets

    return "".join(secrets.choice(alphabet) for _ in range(n))


ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _keygen(tmp_path: Path, kind: str, *options: str) -> str:
    """A real private key made by ssh-keygen (the test makes it; nothing secret is committed here)."""
    path = tmp_path / f"key-{kind}-{len(options)}"
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", *options, "-f", str(path)], check=True)
    return path.read_text()


def _run_start(repo: Path) -> tuple[dict[str, str], Path, str]:
    """start_run in a fresh process: (tags, run dir, stderr with the warnings)."""
    proc = run_python(START, repo)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    run_dir = next((repo / ".gitrun" / "experiments").glob(f"*/runs/{out['run_id']}"))
    return out["tags"], run_dir, proc.stderr


def test_untracked_and_tracked_secret_files_stay_out_of_code_diff_and_the_commit(repo: Path, tmp_path: Path) -> None:
    ed25519 = _keygen(tmp_path, "ed25519")
    rsa_pem = _keygen(tmp_path, "rsa", "-b", "2048", "-m", "PKCS8")
    aws_id, aws_secret = "AKIA" + _token(UPPER, 16), _token(ALNUM + "/+", 40)
    registry_auth = base64.b64encode(f"ci-bot:{_token(ALNUM, 24)}".encode()).decode()
    pg_password, tf_password = _token(ALNUM, 20), _token(ALNUM, 20)
    tracked_key = _keygen(tmp_path, "ecdsa")
    secrets_in_files = {
        "deploy_key": ed25519,  # an OpenSSH private key under a name no list has
        "service-account.json": json.dumps(
            {
                "type": "service_account",
                "project_id": "churn-prod",
                "private_key_id": _token("0123456789abcdef", 40),
                "private_key": rsa_pem,
                "client_email": "trainer@churn-prod.iam.gserviceaccount.com",
                "token_uri": "https://oauth2.googleapis.com/token",
            },
            indent=2,
        ),
        ".pgpass": f"db.internal:5432:churn:trainer:{pg_password}\n",
        ".envrc": f"export AWS_ACCESS_KEY_ID={aws_id}\nexport AWS_SECRET_ACCESS_KEY={aws_secret}\n",
        "docker/config.json": json.dumps({"auths": {"registry.example.com": {"auth": registry_auth}}}, indent=1),
        "infra/prod.tfvars": f'region = "eu-west-1"\ndb_password = "{tf_password}"\n',
        "aws/credentials.ini": f"[default]\naws_access_key_id = {aws_id}\naws_secret_access_key = {aws_secret}\n",
    }
    for rel, content in secrets_in_files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(content)
    odd_name = 'conf/prod "é"\tv2.py'  # Git quotes this name in its diff headers
    for rel in ("settings.py", odd_name):
        (repo / rel).parent.mkdir(exist_ok=True)
        (repo / rel).write_text("DEBUG = False\n")
    run_git(repo, "add", "settings.py", odd_name)
    run_git(repo, "commit", "-q", "-m", "settings")
    with open(repo / "settings.py", "a") as f:  # a tracked file gains a private key
        f.write(f'SIGNING_KEY = """{tracked_key}"""\n')
    with open(repo / odd_name, "a") as f:
        f.write(f"GITHUB_TOKEN = 'ghp_{_token(ALNUM, 36)}'\n")
    # Look-alikes that are not secrets stay in the diff.
    (repo / "train.py").write_text(
        "import os\n"
        'tokenizer = AutoTokenizer.from_pretrained("bert-base-uncased")\n'
        'password = os.environ["DB_PASSWORD"]\n'
        "token = args.token\n"
        'CHECKSUM = "sha256:3b1f9a0c5e7d2b4a6c8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c"\n'
        'MODEL = "meta-llama/Llama-3.1-8B-Instruct"\n'
        "max_tokens = 4096\n"
    )
    (repo / "deploy_key.pub").write_text((tmp_path / "key-ed25519-0.pub").read_text())

    tags, _, stderr = _run_start(repo)

    diff = kept_diff(repo, tags).read_bytes()
    left_out = [*secrets_in_files, "settings.py", odd_name]
    note = tags["gitrun.git.diff"]
    assert note.startswith("code.diff (excluded secrets: ")
    assert all(rel in note for rel in left_out), note
    assert "CodeDiffWarning" in stderr and all(rel in stderr for rel in left_out), stderr
    assert "[tool.gitrun.code_diff] include" in stderr  # how to opt a file back in
    secret_values = [ed25519, rsa_pem, aws_id, aws_secret, registry_auth, pg_password, tf_password, tracked_key]
    for value in secret_values:
        for line in value.splitlines()[1:2] or [value]:  # a body line of a key, or the whole token
            assert line.encode() not in diff
    for rel in left_out:
        assert f"+++ b/{rel}\n".encode() not in diff
    assert b"ghp_" not in diff and b"prod" not in diff
    assert b"AutoTokenizer" in diff and b"max_tokens = 4096" in diff and b"deploy_key.pub" in diff
    assert tags["gitrun.git.dirty"] == "true"

    proc = gitrun_cli("commit", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    committed = run_git(repo, "show", "--format=", "-p", "HEAD").stdout
    assert (
        f"code/{tags['gitrun.git.diff.sha256']}.diff"
        in run_git(repo, "show", "--name-only", "--format=", "HEAD").stdout
    )
    for value in secret_values:
        for line in value.splitlines()[1:2] or [value]:
            assert line not in committed
            assert secret_found(repo, line) == [] or set(secret_found(repo, line)) <= set(left_out)


def test_code_diff_opt_in_and_opt_out_in_pyproject(repo: Path, tmp_path: Path) -> None:
    fixture_key = _keygen(tmp_path, "ed25519")
    (repo / "pyproject.toml").write_text(
        '[tool.gitrun.code_diff]\ninclude = ["tests/fixtures/*"]\nexclude = ["conf/prod.yaml", "*.sqlite"]\n'
    )
    (repo / "tests" / "fixtures").mkdir(parents=True)
    (repo / "tests" / "fixtures" / "signing.pem").write_text(fixture_key)  # wrongly flagged (name and content)
    (repo / "conf").mkdir()
    (repo / "conf" / "prod.yaml").write_text("db_host: prod-db.internal\nreplicas: 3\n")  # a secret gitrun misses
    (repo / "conf" / "dev.yaml").write_text("db_host: localhost\n")
    (repo / "cache.sqlite").write_bytes(b"SQLite format 3\x00" + bytes(64))

    tags, _, stderr = _run_start(repo)

    diff = kept_diff(repo, tags).read_bytes()
    assert fixture_key.splitlines()[1].encode() in diff  # opted in: kept
    assert b"prod-db.internal" not in diff and b"b/cache.sqlite" not in diff  # opted out: left out
    assert b"db_host: localhost" in diff
    note = tags["gitrun.git.diff"]
    assert "conf/prod.yaml" in note and "cache.sqlite" in note and "signing.pem" not in note
    assert "conf/prod.yaml ([tool.gitrun.code_diff] exclude)" in stderr


def test_code_diff_applies_whatever_the_users_diff_configuration(repo: Path, tmp_path: Path) -> None:
    run_git(repo, "config", "diff.noprefix", "true")
    run_git(repo, "config", "diff.mnemonicPrefix", "true")
    (repo / "train.py").write_text("print('edited')\n")
    (repo / "new.py").write_text("print('new')\n")
    run_id, _, _ = start_run(repo)

    proc = gitrun_cli("runs", "checkout", run_id, str(tmp_path / "repro"), cwd=repo)

    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "repro" / "train.py").read_text() == "print('edited')\n"
    assert (tmp_path / "repro" / "new.py").read_text() == "print('new')\n"


# -- one file per distinct diff (issue 16, item 5) ----------------------------------------------
def _kept_files(repo: Path) -> list[str]:
    return sorted(p.name for p in (repo / ".gitrun" / "code").iterdir())


def test_runs_of_one_dirty_tree_share_one_diff_file_and_another_diff_gets_another(repo: Path) -> None:
    (repo / "train.py").write_text("print('lr 0.1')\n")
    first, tags1, dir1 = start_run(repo)  # two processes, as the trials of a sweep
    second, tags2, dir2 = start_run(repo)
    assert tags1["gitrun.git.diff.sha256"] == tags2["gitrun.git.diff.sha256"]
    assert _kept_files(repo) == [f"{tags1['gitrun.git.diff.sha256']}.diff"]
    assert not (dir1 / "code.diff").exists() and not (dir2 / "code.diff").exists()
    diff = kept_diff(repo, tags1).read_bytes()
    assert b"lr 0.1" in diff and hashlib.sha256(diff).hexdigest() == tags1["gitrun.git.diff.sha256"]

    (repo / "train.py").write_text("print('lr 0.2')\n")
    _, tags3, _ = start_run(repo)
    assert tags3["gitrun.git.diff.sha256"] != tags1["gitrun.git.diff.sha256"]
    assert len(_kept_files(repo)) == 2 and b"lr 0.2" in kept_diff(repo, tags3).read_bytes()
    store = gitrun.Client(str(repo)).store
    assert store.code_diff(store.read_run(first)) == store.code_diff(store.read_run(second)) == diff


def test_checkout_of_runs_sharing_a_diff_and_of_an_older_run_with_its_own(repo: Path, tmp_path: Path) -> None:
    (repo / "train.py").write_text("print('shared')\n")
    run_ids = [start_run(repo)[0] for _ in range(2)]
    for run_id in run_ids:
        proc = gitrun_cli("runs", "checkout", run_id, str(tmp_path / run_id), cwd=repo)
        assert proc.returncode == 0, proc.stderr
        assert (tmp_path / run_id / "train.py").read_text() == "print('shared')\n"

    # A run of an earlier release: its own code.diff in its folder, no tag naming a shared one.
    (repo / "train.py").write_text("print('own copy')\n")
    old, tags, run_dir = start_run(repo)
    kept = kept_diff(repo, tags)
    (run_dir / "code.diff").write_bytes(kept.read_bytes())
    kept.unlink()
    gitrun.Client(str(repo)).delete_tag(old, "gitrun.git.diff.sha256")
    proc = gitrun_cli("runs", "checkout", old, str(tmp_path / "old"), cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "old" / "train.py").read_text() == "print('own copy')\n"


def test_a_shared_diff_is_committed_and_read_at_a_revision(repo: Path, tmp_path: Path) -> None:
    from gitrun.vcs.revision import store_at

    (repo / "train.py").write_text("print('committed')\n")
    run_ids = [start_run(repo)[0] for _ in range(2)]
    store = gitrun.Client(str(repo)).store
    diff = store.code_diff(store.read_run(run_ids[0]))
    proc = gitrun_cli("commit", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    shutil.rmtree(repo / ".gitrun" / "code")  # only Git has it now
    at_head = store_at(store, "HEAD")
    for run_id in run_ids:
        assert at_head.code_diff(at_head.read_run(run_id)) == diff
    assert store.code_diff(store.read_run(run_ids[0])) is None  # the work tree lost it: no diff, no error
