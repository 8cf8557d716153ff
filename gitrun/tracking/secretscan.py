"""Secrets in text by content: what keeps them out of a dirty run's ``code.diff`` (gitrun.tracking.code).

A small hand-written detector, chosen over ``detect-secrets`` for its cost (figures in
docs/architecture.md): imported only when a run starts in a dirty work tree, it reads the lines
the diff adds, once per process, in about 1 ms per 50 KB (27 ms for the 1 MiB cap). It knows:

- private key blocks (PEM, OpenSSH, PGP, PuTTY);
- credential files: GCP service-account JSON, AWS access key IDs and secret keys, Docker/registry
  ``auths``;
- well-known token formats: GitHub, GitLab, Slack, Stripe, Google API, Hugging Face, OpenAI and
  Anthropic, npm, PyPI;
- URLs with a password (``postgres://app:S3cr3t@db/...``);
- a literal value given to a secret-named key (``DB_PASSWORD = "..."``, ``export API_TOKEN=...``,
  ``"client_secret": "..."``), but not names, expressions or placeholders (``args.token``,
  ``os.environ["X"]``, ``${DB_PASSWORD}``, ``<your token>``, ``changeme``);
- quoted high-entropy strings (32-128 characters, both cases and digits, 4.5+ bits per character).
"""

from __future__ import annotations

import math
import re

# Patterns are sources, compiled by the re module on first use (and cached there): importing this
# module compiles nothing, and a format's regex is compiled only when one of its literal hints,
# found with a fast substring search, occurs. Formats marked lower=True run on lower-cased text.
_FORMATS: tuple[tuple[str, tuple[bytes, ...], bytes, bool], ...] = (
    ("private key", (b"PRIVATE KEY",), rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----", False),
    ("private key", (b"PuTTY-User-Key-File-",), rb"PuTTY-User-Key-File-\d", False),
    ("GCP service account key", (b"service_account",), rb'"type"\s*:\s*"service_account"', False),
    (
        "AWS access key",
        (b"AKIA", b"ASIA", b"ABIA", b"ACCA"),
        rb"(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}(?![0-9A-Za-z])",
        False,
    ),
    (
        "AWS secret key",
        (b"aws_secret_access_key",),
        rb"aws_secret_access_key[\"']?\s*[=:]\s*[\"']?[a-z0-9/+]{40}",
        True,
    ),
    ("registry auth", (b'"auth"',), rb'"auth"\s*:\s*"[A-Za-z0-9+/]{12,}={0,2}"', False),
    ("GitHub token", (b"ghp_", b"gho_", b"ghu_", b"ghs_", b"ghr_"), rb"gh[pousr]_[A-Za-z0-9]{36,}", False),
    ("GitHub token", (b"github_pat_",), rb"github_pat_[A-Za-z0-9_]{40,}", False),
    ("GitLab token", (b"glpat-",), rb"glpat-[A-Za-z0-9_-]{20,}", False),
    ("Slack token", (b"xox",), rb"xox[abposr]-[A-Za-z0-9-]{10,}", False),
    ("Slack webhook", (b"hooks.slack.com",), rb"hooks\.slack\.com/services/T[A-Za-z0-9_/]{20,}", False),
    ("Stripe key", (b"k_live_",), rb"[rs]k_live_[A-Za-z0-9]{16,}", False),
    ("Google API key", (b"AIza",), rb"AIza[0-9A-Za-z_-]{35}", False),
    ("Hugging Face token", (b"hf_",), rb"hf_[A-Za-z0-9]{34,}", False),
    ("OpenAI/Anthropic key", (b"sk-",), rb"sk-(?:proj-|ant-[a-z0-9]+-)?[A-Za-z0-9_-]{40,}", False),
    ("npm token", (b"npm_",), rb"npm_[A-Za-z0-9]{36}", False),
    ("PyPI token", (b"pypi-AgE",), rb"pypi-AgE[A-Za-z0-9_-]{50,}", False),
)
# user:password@ in a URL (the scheme does not matter: postgres://, amqp://, https://...)
_URL_PASSWORD = rb"://[^\s/:@'\"]+:(?P<password>[^\s/@'\"]{3,})@[A-Za-z0-9\[]"
# A literal value given to a secret-named key: password = "...", API_KEY=..., "token": "...".
_SECRET_NAMES = (
    b"password",
    b"passwd",
    b"passphrase",
    b"secret",
    b"token",
    b"apikey",
    b"api_key",
    b"api-key",
    b"access_key",
    b"accesskey",
    b"private_key",
    b"privatekey",
    b"credential",
)
_ASSIGNED = rb"(?P<suffix>(?:[_.-][A-Za-z0-9]+)*)[\"']?[ \t]*(?:=|:|:=|=>)[ \t]*[\"']?(?P<value>[^\s\"'`,;)\]}]{8,})"
# Names that hold something about a secret, not the secret: token_type, secret_id, password_file...
_NOT_SECRET_SUFFIX = (
    rb"(?i).*[_.-](?:id|ids|name|names|type|uri|url|file|path|dir|env|var|field|header|prefix|pattern|length|len|"
    rb"count|limit|size|format|regex|hash|policy|expiry|expires|ttl|scope|scopes|usage|config|provider|store|"
    rb"manager|client|service|backend|method|mode|source|class|error|version|enabled|required|column|label)$"
)
_NOT_SECRET_PREFIX = (b"page", b"next", b"continuation", b"cursor", b"sync", b"csrf")
_QUOTED = rb"[\"'](?P<value>[A-Za-z0-9+/_=-]{32,128})[\"']"
_PLACEHOLDER = (
    rb"(?i)[$%<{(*.\\]|x{4}|.*(?:example|changeme|change_me|placeholder|dummy|redacted|your[_-]|fake|sample|://|\.\.\.)"
)
# A name, not a value: args.password, SOME_CONSTANT, self._config.api_key, TEXT2TEXT_SIGNATURE.
_IDENTIFIER = rb"[A-Za-z_][A-Za-z_.-]*|(?=[A-Za-z0-9.]*[_.])[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_SEQUENCES = (b"abcdefgh", b"01234567", b"qwertyui")  # alphabets and keyboard rows are not keys
_HASH_PREFIX = rb"(?i)(?:sha\d+|md5)[-:]"


def _entropy(data: bytes) -> float:
    """Shannon entropy in bits per byte."""
    n = len(data)
    return -sum(c / n * math.log2(c / n) for c in (data.count(b) for b in set(data)))


def _secret_value(value: bytes) -> bool:
    """A literal that reads like a password or token, not a placeholder, an expression or a name."""
    value = value.rstrip(b":")  # `if token := ...:`
    if re.match(_PLACEHOLDER, value) or re.fullmatch(_IDENTIFIER, value) or b"(" in value or b"[" in value:
        return False
    return _entropy(value) >= (4.0 if b"/" in value else 2.5)  # a path is not a password


def _random_token(value: bytes) -> bool:
    """A string as random as a generated key: both cases and digits, one base64 alphabet (``+/`` or
    ``-_``), few separators, 4.5+ bits per character (detect-secrets' limit for base64 strings),
    and not a hash spelled ``sha256-...``. Names like ``org/Model-7B-v2`` are not keys."""
    separators = sum(value.count(c) for c in (b"-", b"_", b"/", b"+"))
    return (
        value.lower() != value
        and value.upper() != value
        and any(48 <= c <= 57 for c in value)
        and not (any(c in value for c in b"+/") and any(c in value for c in b"-_"))
        and separators * 8 <= len(value)
        and not re.match(_HASH_PREFIX, value)
        and not any(run in value.lower() for run in _SEQUENCES)
        and _entropy(value) >= 4.5
    )


def _secret_name(lower: bytes, at: int, suffix: bytes) -> bool:
    """Whether the key around the secret word at ``lower[at]`` names a secret (not ``page_token``, ``secret_id``)."""
    if at > 0 and lower[at - 1 : at].isalpha():
        return False  # inside a word: bypass, compassword
    start = at
    while start > 0 and (lower[start - 1 : start].isalnum() or lower[start - 1 : start] in (b"_", b"-", b".")):
        start -= 1
    prefix = lower[start:at].rstrip(b"_-.")
    return not (prefix.endswith(_NOT_SECRET_PREFIX) or re.match(_NOT_SECRET_SUFFIX, suffix))


def find_secret(added: bytes) -> str | None:
    """The kind of secret ``added`` (the text a diff adds) holds, or None."""
    lower = added.lower()
    for kind, hints, pattern, lowered in _FORMATS:
        text = lower if lowered else added
        if any(hint in text for hint in hints) and re.search(pattern, text):
            return kind
    if b"://" in added:
        for match in re.finditer(_URL_PASSWORD, added):
            password = match.group("password")
            if not (re.match(_PLACEHOLDER, password) or password.isalpha()):  # user:password@ in documentation
                return "URL with a password"
    assignment = re.compile(_ASSIGNED)
    for name in _SECRET_NAMES:
        at = lower.find(name)
        while at != -1:
            assigned = assignment.match(added, at + len(name))
            if (
                assigned
                and _secret_value(assigned.group("value"))
                and _secret_name(lower, at, assigned.group("suffix"))
            ):
                return "secret assignment"
            at = lower.find(name, at + len(name))
    for match in re.finditer(_QUOTED, added):
        if _random_token(match.group("value")):
            return "high-entropy string"
    return None
