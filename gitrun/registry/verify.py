"""Signed registry events: is a tag's signature from a key the repository trusts?

The trusted keys are files committed in the repository, read **at the default branch's tip**
(``origin/HEAD``, else ``main``/``master``: :meth:`gitrun.vcs.git.GitRepo.default_branch`), so a
branch cannot trust a key by adding it to its own copy:

- SSH signatures: an allowed-signers file (``ssh-keygen``'s format, what Git's
  ``gpg.ssh.allowedSignersFile`` names), ``.gitrun/allowed_signers`` by default;
- OpenPGP signatures: ASCII-armoured public keys, ``.gitrun/trusted_keys.asc`` by default, imported
  into a throw-away GnuPG home.

Git checks the signature (``git verify-tag``); each event is ``verified``, ``unsigned`` or ``bad``
(a signature that does not verify, or one by a key the files do not list), with the reason.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from gitrun import gitcmd
from gitrun.registry.policy import Policy, load_policy
from gitrun.registry.state import Event

VERIFIED = "verified"
UNSIGNED = "unsigned"
BAD = "bad"


@dataclass(frozen=True)
class SignatureStatus:
    status: str  # verified, unsigned or bad
    detail: str
    signer: str | None = None  # the principal (SSH) or the key's user ID (OpenPGP), when verified


class Verifier:
    """Verifies events of the repository at ``root`` against the keys trusted at ``rev``
    (the default branch's tip when None). Use as a context manager, or call :meth:`close`."""

    def __init__(self, root: Path, policy: Policy | None = None, rev: str | None = None):
        self.root = root
        self.policy = policy or load_policy(root)
        self._rev = rev
        self._tmp: str | None = None

    def __enter__(self) -> Verifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    @cached_property
    def rev(self) -> str | None:
        if self._rev is not None:
            return self._rev
        from gitrun.vcs.git import GitRepo

        return GitRepo(self.root).default_branch()

    def _scratch(self) -> str:
        if self._tmp is None:
            self._tmp = tempfile.mkdtemp(prefix="gitrun-verify-")
        return self._tmp

    def _committed(self, path: str) -> bytes | None:
        if self.rev is None:
            return None
        proc = gitcmd.run(self.root, "cat-file", "blob", f"{self.rev}:{path}", check=False, text=False)
        return proc.stdout if proc.returncode == 0 else None

    @cached_property
    def _signers_file(self) -> str | None:
        data = self._committed(self.policy.allowed_signers)
        if data is None:
            return None
        path = os.path.join(self._scratch(), "allowed_signers")
        with open(path, "wb") as f:
            f.write(data)
        return path

    @cached_property
    def _gnupg_home(self) -> str | None:
        data = self._committed(self.policy.trusted_gpg_keys)
        if data is None or shutil.which("gpg") is None:
            return None
        home = os.path.join(self._scratch(), "gnupg")
        os.makedirs(home, mode=0o700)
        import subprocess

        subprocess.run(
            ["gpg", "--batch", "--quiet", "--homedir", home, "--import"],
            input=data,
            capture_output=True,
            timeout=60,
            env={**os.environ, "GNUPGHOME": home},
        )
        return home

    def verify(self, event: Event) -> SignatureStatus:
        if not event.signed:
            return SignatureStatus(UNSIGNED, "the tag is not signed")
        where = self.rev or "the default branch"
        if event.signature == "ssh":
            signers = self._signers_file
            if signers is None:
                return SignatureStatus(
                    BAD, f"signed, but there is no {self.policy.allowed_signers} on {where} to trust a key"
                )
            args = ["-c", f"gpg.ssh.allowedSignersFile={signers}", "verify-tag", "--raw", f"refs/tags/{event.tag}"]
            proc = gitcmd.run(self.root, *args, check=False)
            text = (proc.stderr + proc.stdout).strip()
            if proc.returncode == 0:
                return SignatureStatus(VERIFIED, text.splitlines()[0] if text else "good signature", _principal(text))
            if "No principal matched" in text:
                return SignatureStatus(
                    BAD, f"signed by a key that {self.policy.allowed_signers} on {where} does not list"
                )
            return SignatureStatus(BAD, text.splitlines()[-1] if text else "the signature does not verify")
        home = self._gnupg_home
        if home is None:
            return SignatureStatus(
                BAD, f"signed, but there is no {self.policy.trusted_gpg_keys} on {where} (or no gpg) to trust a key"
            )
        proc = gitcmd.run(
            self.root, "verify-tag", "--raw", f"refs/tags/{event.tag}", check=False, env={"GNUPGHOME": home}
        )
        status = proc.stderr
        if proc.returncode == 0 and "[GNUPG:] GOODSIG" in status:
            line = next(ln for ln in status.splitlines() if "GOODSIG" in ln)
            return SignatureStatus(
                VERIFIED, "good OpenPGP signature", line.split(" ", 3)[-1] if line.count(" ") >= 3 else None
            )
        if "NO_PUBKEY" in status:
            return SignatureStatus(BAD, f"signed by a key that {self.policy.trusted_gpg_keys} on {where} does not hold")
        return SignatureStatus(BAD, "the OpenPGP signature does not verify")


def _principal(text: str) -> str | None:
    # Git: 'Good "git" signature for alice@example.com with ED25519 key SHA256:...'
    marker = " signature for "
    if marker not in text:
        return None
    return text.split(marker, 1)[1].split(" with ", 1)[0].strip() or None
