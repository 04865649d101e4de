"""The service's public base URL (``SUBLEDGER_PUBLIC_URL``): where its clients reach it.

Links the service hands out (a share link) and the URIs it publishes (the ``dataschema``
of every CloudEvent, the ``$id`` of each JSON Schema) are built from it, never from a
request's ``Host`` header, which the caller chooses: a link built from it could send a
customer, with the link's secret, to another site.
"""

from __future__ import annotations

from urllib.parse import urlsplit

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
# Addresses a server listens on that no browser can open: this machine's instead.
_EVERYWHERE = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


class PublicUrlMisconfigured(ValueError):
    pass


def checked_public_url(url: str) -> str:
    """``http(s)://host[:port][/prefix]``, without a trailing slash."""
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.query
        or parts.fragment
    ):
        raise PublicUrlMisconfigured(
            f"SUBLEDGER_PUBLIC_URL must be http(s)://host[:port][/path], got {url!r}"
        )
    return url.rstrip("/")


def served_url(host: str, port: int) -> str:
    """Where a client on this machine reaches a server listening on ``host:port``: the
    public URL when none is configured (``subledger serve --port 8080`` hands out links
    to 8080, not to the default's 8000)."""
    host = _EVERYWHERE.get(host, host)
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    return checked_public_url(f"http://{host}:{port}")
