"""Escaping and formatting: everything user-controlled that reaches a page goes through here or
through Jinja2's autoescape.

- :func:`script_json` makes JSON safe inside ``<script>`` (``<``, ``>``, ``&``, ``'`` and the
  line separators U+2028/U+2029 become ``\\uXXXX`` escapes, so no text can close the tag).
- :func:`render_note` turns a Markdown note into HTML that ``nh3`` has sanitized: no scripts, no
  event handlers, no ``javascript:`` links; :func:`sanitize_html` cleans an HTML artifact the
  same way (styles kept) before its sandboxed preview.
- :func:`file_slug` maps a metric key or artifact name to a safe, unique file name.
- :func:`tag_value` shows the repository URL tag without credentials (a run logged by an older
  gitrun, or by another tool, may have stored them).

Numbers, times, durations and sizes are formatted by :mod:`gitrun.formatting`, as everywhere.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any
from urllib.parse import quote

from gitrun import formatting, tags
from gitrun.redact import strip_credentials

_SCRIPT_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "'": "\\u0027",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_SCRIPT_RE = re.compile("[<>&'\u2028\u2029]")


def dumps(value: Any) -> str:
    """Compact JSON with sorted keys; non-finite floats are refused (convert them first)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def escape_script(text: str) -> str:
    return _SCRIPT_RE.sub(lambda m: _SCRIPT_ESCAPES[m.group()], text)


def script_json(value: Any) -> Any:
    """JSON for a ``<script>`` element or a JavaScript file, as Jinja2 Markup (already safe)."""
    from markupsafe import Markup

    return Markup(escape_script(dumps(value)))


def js_assign(key: str, value: Any) -> str:
    """A data file: a script that stores ``value`` under ``GITRUN_DATA[key]`` (file:// needs no fetch)."""
    return f"window.GITRUN_DATA=window.GITRUN_DATA||{{}};window.GITRUN_DATA[{escape_script(dumps(key))}]={escape_script(dumps(value))};\n"


DIGITS = 6  # significant digits of the numbers the site's pages show


def format_number(value: Any, digits: int = DIGITS) -> str:
    """:func:`gitrun.formatting.format_number` at the site's precision ("" for a missing value)."""
    return formatting.format_number(value, digits)


def url_path(path: str) -> str:
    """A relative URL from a site path: every segment percent-encoded, the slashes kept."""
    return "/".join(quote(part, safe="") for part in path.split("/"))


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def file_slug(name: str) -> str:
    """A file name for ``name`` (a metric key may hold '/', ':' or spaces); unique per name."""
    slug = _UNSAFE.sub("_", name).strip("._") or "x"
    if slug != name:
        slug = f"{slug[:80]}-{hashlib.sha1(name.encode('utf-8')).hexdigest()[:8]}"
    return slug


def render_note(text: str) -> str:
    """Markdown note -> sanitized HTML (nh3 keeps safe tags, drops scripts, handlers, images and unsafe URLs)."""
    import markdown
    import nh3

    html = markdown.markdown(text, extensions=["fenced_code", "tables", "sane_lists"], output_format="html")
    # No images (or other embedded media): a remote image would be a request leaving the site.
    allowed = set(nh3.ALLOWED_TAGS) - _MEDIA
    return str(
        nh3.clean(html, tags=allowed, link_rel="noopener noreferrer nofollow", url_schemes={"http", "https", "mailto"})
    )


_MEDIA = {"img", "picture", "source", "video", "audio", "track", "map", "area"}


def sanitize_html(html: str) -> str:
    """An HTML artifact cleaned by nh3 for its sandboxed preview: no scripts, event handlers,
    unsafe URLs or embedded media (a remote image would be a request leaving the site); styles kept."""
    import nh3

    attributes = {tag: set(names) for tag, names in nh3.ALLOWED_ATTRIBUTES.items()}
    attributes["*"] = attributes.get("*", set()) | {"style", "class"}
    return str(
        nh3.clean(
            html,
            tags=(set(nh3.ALLOWED_TAGS) | {"style"}) - _MEDIA,
            clean_content_tags={"script"},
            attributes=attributes,
            link_rel="noopener noreferrer nofollow",
            url_schemes={"http", "https", "mailto"},
        )
    )


def tag_value(key: str, value: str) -> str:
    """A tag's value as a published page may show it: URLs in the repository URL tag lose their credentials."""
    if key != tags.GIT_REPO_URL:
        return value
    return strip_credentials(value)


_SCP_RE = re.compile(r"^(?:[\w.-]+@)?(?P<host>[\w.-]+):(?P<path>[^/][^:]*?)(?:\.git)?/?$")
_URL_RE = re.compile(r"^(?:https?|ssh|git)://(?:[^@/]+@)?(?P<host>[\w.-]+)(?::\d+)?/(?P<path>.+?)(?:\.git)?/?$")


def forge_commit_url(remote_url: str | None, commit: str | None) -> str | None:
    """Link to ``commit`` on GitHub or GitLab from a remote URL (https or SSH form); None elsewhere."""
    if not remote_url or not commit or not re.fullmatch(r"[0-9a-f]{7,64}", commit):
        return None
    match = _URL_RE.match(remote_url) or _SCP_RE.match(remote_url)
    if not match:
        return None
    host, path = match.group("host").lower(), match.group("path")
    if not re.fullmatch(r"[\w.\-/]+", path):
        return None
    if host == "github.com" or host.startswith("github."):
        return f"https://{host}/{path}/commit/{commit}"
    if host == "gitlab.com" or host.startswith("gitlab."):
        return f"https://{host}/{path}/-/commit/{commit}"
    return None


def https_repo_url(remote_url: str | None) -> str | None:
    """The https form of a GitHub/GitLab remote (for ``dvc get``), else the remote as it is."""
    if not remote_url:
        return None
    match = _URL_RE.match(remote_url) or _SCP_RE.match(remote_url)
    if match and ("github" in match.group("host") or "gitlab" in match.group("host")):
        return f"https://{match.group('host')}/{match.group('path')}"
    return remote_url
