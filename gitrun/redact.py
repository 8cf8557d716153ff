"""Credentials out of URLs and messages: the one rule every printed or stored URL goes through.

A URL with a scheme (``https://``, ``s3://``, ``ssh://``...) loses its user name and password
(``https://bob:pw@host/x`` -> ``https://host/x``), its query and its fragment: tokens travel in
query parameters under names no list can cover (``private_token``, ``access_token``, ``sig``,
``X-Amz-Signature``...), and a Git remote or a store location never needs one. An ``ssh://``
user without a password names an account, not a secret, and stays. scp-like Git addresses
(``git@github.com:org/repo.git``) and plain paths have no place for a secret and stay as they are.

:func:`redact_credentials` applies the rule to every URL inside a text: Git's and DVC's error
messages quote remote URLs, so everything gitrun prints from them goes through it.
"""

from __future__ import annotations

import re
from typing import NamedTuple

# A scheme, "://", then anything up to white space or a quote/bracket that ends a URL in prose.
_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]+")
_SSH_SCHEMES = frozenset({"ssh", "git+ssh", "ssh+git"})


class UrlParts(NamedTuple):
    scheme: str
    userinfo: str | None  # None: no "@" before the host
    host: str  # host and port, as written
    path: str
    rest: str  # "?query#fragment", as written ("" when absent)


def split_url(url: str) -> UrlParts | None:
    """The parts of ``url`` that matter for credentials; None without a ``scheme://``. Never raises.

    Unlike :func:`urllib.parse.urlsplit`, a password with an unescaped ``/`` (AWS secret keys
    have them: ``s3://KEY:abc/def@bucket``) counts as user info, not as the start of the path.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme or not scheme[0].isalpha():
        return None
    cut = len(rest)
    for mark in "?#":
        index = rest.find(mark)
        if index != -1:
            cut = min(cut, index)
    before, after = rest[:cut], rest[cut:]
    slash = before.find("/")
    authority, path = (before, "") if slash == -1 else (before[:slash], before[slash:])
    userinfo: str | None = None
    if "@" in authority:
        userinfo, _, authority = authority.rpartition("@")
    elif "@" in path and ":" in authority and not authority.startswith("[") and not _is_port(authority):
        # "user:pass/word@host/path": after the first ":" comes a password, not a port number.
        userinfo, _, tail = before.rpartition("@")
        slash = tail.find("/")
        authority, path = (tail, "") if slash == -1 else (tail[:slash], tail[slash:])
    return UrlParts(scheme, userinfo, authority, path, after)


def _is_port(authority: str) -> bool:
    return authority.rsplit(":", 1)[1].isdigit()


def strip_credentials(url: str) -> str:
    """``url`` without user name, password, query and fragment (a user of ``ssh://user@`` stays).

    Never raises; text without ``scheme://`` is returned as it is.
    """
    parts = split_url(url)
    if parts is None:
        return url
    host = parts.host
    if parts.userinfo is not None and parts.scheme.lower() in _SSH_SCHEMES and ":" not in parts.userinfo:
        host = f"{parts.userinfo}@{host}"
    return f"{parts.scheme}://{host}{parts.path}"


def redact_credentials(text: str) -> str:
    """``text`` with :func:`strip_credentials` applied to every URL in it (for error messages, logs, output)."""
    if "://" not in text:
        return text
    return _URL_IN_TEXT.sub(lambda m: strip_credentials(m.group(0)), text)
