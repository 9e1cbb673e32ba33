"""Callback URLs for asynchronous recognition: registered by a challenge, notified with signed POSTs.

As in Watson: registering sends `GET {url}?challenge_string=X` (Accept: text/plain), and the URL must
answer 200 with X within 5 s; an instance may register at most 20 URLs an hour. With a `user_secret`,
the challenge and every notification carry `X-Callback-Signature`: the base64 HMAC-SHA1 of the
challenge string or of the notification body (the ibm-watson SDK documents SHA1; IBM's prose docs also
mention SHA-256).

A callback URL is a request the server sends on a client's behalf, so it must not reach the server's own
network: a URL whose host resolves to a loopback, private, link-local, multicast, unspecified or reserved
address is refused unless the operator allows it (`Settings.callback_allowed_hosts`), and every failure
gives one message, so registration cannot be used to scan ports or learn what an internal service answers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from parlance.errors import BadRequest, NotFound, TooManyRequests
from parlance.settings import Settings
from parlance.store.db import Database
from parlance.store.orm import Callback

log = logging.getLogger(__name__)
CHALLENGE_TIMEOUT = 5.0  # seconds the callback has to answer the challenge (Watson: 5 s)
NOTIFY_TIMEOUT = 10.0
MAX_URL = 2048
MAX_CHALLENGE_ANSWER = 4096  # bytes read of the challenge answer; a longer one is wrong anyway
UNREACHABLE = (
    "The callback URL could not be registered: it must be an http or https URL on a public address (or one the "
    "operator allows) that answers GET within 5 seconds with status 200 and the challenge_string as its "
    "text/plain body"
)
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


def signature(secret: str, payload: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), payload, hashlib.sha1).digest()).decode()


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (an address literal resolves to itself)."""
    return list(dict.fromkeys(str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)))


class Refused(Exception):
    """A callback URL that must not or cannot be contacted; the reason is for the log, never for the client."""


@dataclass(frozen=True)
class Target:
    """A callback URL pinned to the address that was checked: requests go to `url` (the address in place of
    the host name) and carry the name in the Host header and in TLS SNI, so the certificate is still checked
    against the name. Resolving once and connecting to that address leaves no window for DNS rebinding,
    which a second lookup inside the HTTP client would."""

    url: httpx.URL
    host_header: str
    server_name: str


class Callbacks:
    def __init__(self, db: Database, settings: Settings, resolver: Resolver = resolve) -> None:
        self.db = db
        self.settings = settings
        self.resolver = resolver
        self._attempts: dict[str, deque[float]] = {}  # owner -> monotonic times of recent registration attempts
        self._attempts_lock = threading.Lock()

    def register(self, owner: str, url: str, secret: str | None) -> tuple[dict[str, str], bool]:
        """Register `url` after its challenge; (body, created). An existing registration is kept."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > MAX_URL:
            raise BadRequest(f"The callback_url must be an http or https URL of at most {MAX_URL} characters")
        if self.secret_of(owner, url, required=False) is not None:
            return {"status": "already created", "url": url}, False
        self._count_attempt(owner)
        challenge = secrets.token_urlsafe(24)
        headers = {"Accept": "text/plain"}
        if secret:
            headers["X-Callback-Signature"] = signature(secret, challenge.encode())
        try:
            answer = self._challenge(self._target(url), challenge, headers)
        except Refused as exc:
            log.info("callback %s refused for instance %s: %s", url, owner, exc)
            raise BadRequest(UNREACHABLE) from None
        if answer != challenge:
            log.info("callback %s for instance %s did not echo the challenge", url, owner)
            raise BadRequest(UNREACHABLE)
        try:
            with self.db.session() as s:
                s.add(Callback(owner=owner, url=url, user_secret=secret or None))
        except IntegrityError:  # registered concurrently
            return {"status": "already created", "url": url}, False
        return {"status": "created", "url": url}, True

    def _count_attempt(self, owner: str) -> None:
        """Watson's limit of registrations an hour per instance. Every attempt that would send a challenge
        counts, failed ones too: they are the ones a scan makes. Kept in memory: a restart forgets it."""
        limit, now = self.settings.callback_registrations_per_hour, time.monotonic()
        with self._attempts_lock:
            recent = self._attempts.setdefault(owner, deque())
            while recent and recent[0] <= now - 3600:
                recent.popleft()
            if len(recent) >= limit:
                raise TooManyRequests(f"At most {limit} callback registrations per hour are allowed; try again later")
            recent.append(now)

    def _target(self, url: str) -> Target:
        """Resolve the URL's host once and check every address it gives; Refused if one is not allowed."""
        parsed = httpx.URL(url)
        host, port = parsed.raw_host.decode("ascii"), parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            found = self.resolver(host, port)
            addresses = [ipaddress.ip_address(a.split("%")[0]) for a in found]
        except (OSError, UnicodeError, ValueError) as exc:
            raise Refused(f"cannot resolve {host}: {exc}") from None
        if not addresses:
            raise Refused(f"{host} has no address")
        for address in addresses:
            if not self._allowed(host, address):
                raise Refused(f"{host} resolves to {address}, which is not a public address and is not allowed")
        netloc = parsed.netloc.decode("ascii").rsplit("@", 1)[-1]
        return Target(parsed.copy_with(host=str(addresses[0])), netloc, host)

    def _allowed(self, host: str, address: IPAddress) -> bool:
        for entry in self.settings.callback_allowed_hosts:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:  # a host name
                if entry.lower().rstrip(".") == host.lower().rstrip("."):
                    return True
        return is_public(address)

    def _challenge(self, target: Target, challenge: str, headers: dict[str, str]) -> str:
        try:
            with (
                _client(CHALLENGE_TIMEOUT) as client,
                client.stream(
                    "GET",
                    target.url.copy_merge_params({"challenge_string": challenge}),
                    headers={**headers, "Host": target.host_header},
                    extensions={"sni_hostname": target.server_name},
                ) as answer,
            ):
                body = b""
                for chunk in answer.iter_bytes():
                    body += chunk
                    if len(body) > MAX_CHALLENGE_ANSWER:
                        raise Refused("the challenge answer is too long")
                if answer.status_code != 200:
                    raise Refused(f"status {answer.status_code}")
        except httpx.HTTPError as exc:
            raise Refused(f"{type(exc).__name__}: {exc}") from None
        return body.decode("utf-8", "replace").strip()

    def unregister(self, owner: str, url: str) -> None:
        with self.db.session() as s:
            gone = s.execute(delete(Callback).where(Callback.owner == owner, Callback.url == url)).rowcount
        if not gone:
            raise NotFound(f"The callback URL '{url}' is not registered")

    def secret_of(self, owner: str, url: str, required: bool = True) -> str | None:
        """The URL's secret ("" without one); BadRequest when `required` and the URL is not registered."""
        with self.db.session() as s:
            row = s.scalar(select(Callback).where(Callback.owner == owner, Callback.url == url))
        if row is None:
            if required:
                raise BadRequest(f"The callback_url '{url}' is not registered; register it with /v1/register_callback")
            return None
        return row.user_secret or ""

    def notify(self, owner: str, url: str, body: dict[str, Any]) -> None:
        """POST a notification; a callback that fails is logged, never fails the job. A URL that was
        unregistered since the job was created, or whose host now resolves to an address that is not
        allowed, is not notified."""
        secret = self.secret_of(owner, url, required=False)
        if secret is None:
            return
        payload = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if secret:
            headers["X-Callback-Signature"] = signature(secret, payload)
        try:
            target = self._target(url)
            with _client(NOTIFY_TIMEOUT) as client:
                client.post(
                    target.url,
                    content=payload,
                    headers={**headers, "Host": target.host_header},
                    extensions={"sni_hostname": target.server_name},
                ).raise_for_status()
        except (Refused, httpx.HTTPError) as exc:
            log.warning("callback %s for job %s failed: %s", url, body.get("id"), exc)


def _client(timeout: float) -> httpx.Client:
    # No proxies from the environment (the request must go to the checked address) and no redirects
    # (a redirect would lead to an address nobody checked).
    return httpx.Client(timeout=timeout, trust_env=False, follow_redirects=False)


def is_public(address: IPAddress) -> bool:
    """Whether an address is on the public internet: not loopback, private, link-local, multicast,
    unspecified or reserved (an IPv4-mapped IPv6 address is judged by its IPv4 address)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not (
        address.is_multicast or address.is_reserved or address.is_unspecified or address.is_link_local
    )
