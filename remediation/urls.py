"""Templated URLs of HTTP actions: values from alerts are escaped, and only allowed hosts are
reached.

The value put into a URL template (``{target}``: the top root cause, i.e. a label some alert
carried) comes from whoever can send an alert, so it is data, never URL syntax: it is
percent-encoded with nothing left as a delimiter (``/``, ``?``, ``#``, ``@`` and ``:``
included), so it stays inside the component the template put it in. A value that is only dots
(``.``/``..``) would still be a path step once decoded, and is refused. After rendering, the
URL's scheme, host and port must be one of the runbook's ``allowed_hosts`` (by default the
origin the template itself names, when its host part holds no placeholder); a URL with user
information is refused as well. A refusal raises :class:`UnsafeUrl`, which the remediator
records as a refused decision with the reason.

>>> render_url("http://cache:8080/flush/{target}?svc={target}", {"target": "../../admin?x#"})
'http://cache:8080/flush/..%2F..%2Fadmin%3Fx%23?svc=..%2F..%2Fadmin%3Fx%23'
>>> render_url("http://cache:8080/flush/{target}", {"target": "x@169.254.169.254/latest#"})
'http://cache:8080/flush/x%40169.254.169.254%2Flatest%23'
>>> check_origin("http://{target}.internal/x", {"target": "x@169.254.169.254/#"},
...              ["http://cache.internal"])
Traceback (most recent call last):
...
remediation.urls.UnsafeUrl: ...
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from urllib.parse import quote, urlsplit

from aiops.model import AiopsError

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class UnsafeUrl(AiopsError):
    """A rendered URL would leave the hosts its runbook allows, or a value would change its
    shape; ``reason`` says which."""

    def __init__(self, reason: str, url: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.url = url


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an absolute http(s) URL, the default port filled in.

    >>> origin("HTTPS://Cache.Internal/x")
    ('https', 'cache.internal', 443)
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise UnsafeUrl(f"{url!r} is not an absolute http(s) URL", url)
    try:
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"{url!r} has an invalid port", url) from exc
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def static_origin(template: str) -> tuple[str, str, int] | None:
    """The template's origin when its scheme/host/port hold no placeholder, else ``None``."""
    parts = urlsplit(template)
    if _PLACEHOLDER.search(f"{parts.scheme}://{parts.netloc}"):
        return None
    return origin(template)


def _escape(name: str, value: str) -> str:
    if value.strip(".") == "":
        raise UnsafeUrl(f"{{{name}}} is {value!r}: an empty or dot-only value would change "
                        "the path")
    return quote(value, safe="")


def render_url(template: str, values: Mapping[str, str]) -> str:
    """The template with each ``{name}`` replaced by its percent-encoded value (unknown
    placeholders stay as they are)."""

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        return _escape(name, values[name]) if name in values else match.group(0)

    return _PLACEHOLDER.sub(sub, template)


def check_origin(template: str, values: Mapping[str, str], allowed: Sequence[str]) -> str:
    """Render ``template`` and return it if it reaches an allowed origin; raise
    :class:`UnsafeUrl` with the reason otherwise. ``allowed`` empty: the template's own
    (static) origin."""
    url = render_url(template, values)
    origins = {origin(a) for a in allowed}
    if not origins:
        own = static_origin(template)
        if own is None:
            raise UnsafeUrl("the URL's host comes from a placeholder and the runbook lists no "
                            "allowed_hosts", url)
        origins = {own}
    parts = urlsplit(url)
    if parts.username is not None or "@" in parts.netloc:
        raise UnsafeUrl(f"refused {url!r}: user information in the URL", url)
    reached = origin(url)
    if reached not in origins:
        allowed_text = ", ".join(f"{s}://{h}:{p}" for s, h, p in sorted(origins))
        raise UnsafeUrl(f"refused {url!r}: {reached[0]}://{reached[1]}:{reached[2]} is not "
                        f"an allowed host ({allowed_text})", url)
    return url
