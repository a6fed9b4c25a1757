"""The [portal] table: where links point, how long they live, and where the link secret is.

The secret itself is never in the file: the table names the environment variable that holds
it, so that the configuration can be shared, printed by `config show` and backed up.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from channels.errors import ChannelsError
from channels.portal.links import LinkSigner
from releases.settings import Spec

DEFAULT_SECRET_ENV = "QUARTERDECK_PORTAL_SECRET"
MIN_SECRET_BYTES = 32


def _env_name_problem(value: str) -> str | None:
    if not value or not all(c.isalnum() or c == "_" for c in value) or value[0].isdigit():
        return f"{value!r} is not an environment variable name (letters, digits and _)"
    return None


def _base_url_problem(value: str) -> str | None:
    if not value.startswith(("http://", "https://")) or any(c.isspace() for c in value):
        return f"{value!r} must start with http:// or https://"
    return None


PORTAL: Spec = {
    "base_url": {"type": str, "default": "http://127.0.0.1:8080", "check": _base_url_problem},
    "secret_env": {"type": str, "default": DEFAULT_SECRET_ENV, "check": _env_name_problem},
    "link_days": {"type": int, "default": 30, "minimum": 1},
    "trust_proxy": {"type": bool, "default": False},
}


@dataclass(frozen=True)
class PortalSettings:
    """The checked [portal] table. `trust_proxy`: the reverse proxy in front of `serve` is ours,
    so its X-Forwarded-Proto says whether the visitor came over TLS (and cookies get Secure)."""

    base_url: str
    secret_env: str
    link_days: int
    trust_proxy: bool

    @classmethod
    def from_table(cls, table: dict[str, Any]) -> PortalSettings:
        return cls(base_url=table["base_url"].rstrip("/"), secret_env=table["secret_env"],
                   link_days=table["link_days"], trust_proxy=table["trust_proxy"])

    def secret_is_set(self) -> bool:
        """Whether personal links are made at all: beta-available notices carry one only then."""
        return bool(os.environ.get(self.secret_env, ""))

    def link_base_gap(self) -> str | None:
        """Why the links notices carry would not open for hospices: made (the secret is set) but
        pointing at this machine. `config check` warns; a demo on one machine is the exception."""
        from ipaddress import ip_address
        from urllib.parse import urlsplit

        host = (urlsplit(self.base_url).hostname or "").lower()
        try:
            loopback = host == "localhost" or ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not self.secret_is_set() or not loopback:
            return None
        return (f"portal.base_url is {self.base_url}, an address on this machine: the personal links "
                "in beta and advance notices will not open for hospices (set it to the reverse "
                "proxy's https:// address)")

    def signer(self) -> LinkSigner:
        """What makes the personal links: `portal link` and the beta-available notices."""
        return LinkSigner(self.base_url, self.link_days, self.secret())

    def secret(self) -> bytes:
        """The link secret from the environment; rotating it revokes every link and session."""
        value = os.environ.get(self.secret_env, "")
        if not value:
            raise ChannelsError(f"the environment variable {self.secret_env} is not set: personal links "
                                "are signed with the secret it holds",
                                hint=f"set {self.secret_env} to a long random value (for example the "
                                     "output of `openssl rand -hex 32`) in the environment of every "
                                     "quarterdeck command that makes or checks links")
        secret = value.encode("utf-8")
        if len(secret) < MIN_SECRET_BYTES:
            raise ChannelsError(f"the environment variable {self.secret_env} holds {len(secret)} bytes, "
                                f"fewer than {MIN_SECRET_BYTES}: a short secret can be guessed",
                                hint="use `openssl rand -hex 32` for a new one (every link changes)")
        return secret


INIT = '''\
# The beta testers' page and the problem intake API (`quarterdeck serve`, `quarterdeck portal`).
[portal]
base_url = "http://127.0.0.1:8080"   # where personal links point: the reverse proxy's https:// address
secret_env = "QUARTERDECK_PORTAL_SECRET"  # the variable holding the link secret (never this file)
link_days = 30                # a personal link expires after this many days
trust_proxy = false           # true: the proxy's X-Forwarded-Proto https makes session cookies Secure

'''
