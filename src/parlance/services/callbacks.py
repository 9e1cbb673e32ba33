"""Callback URLs for asynchronous recognition: registered by a challenge, notified with signed POSTs.

As in Watson: registering sends `GET {url}?challenge_string=X` (Accept: text/plain), and the URL must
answer 200 with X within 5 s. With a `user_secret`, the challenge and every notification carry
`X-Callback-Signature`: the base64 HMAC-SHA1 of the challenge string or of the notification body
(the ibm-watson SDK documents SHA1; IBM's prose docs also mention SHA-256).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from parlance.errors import BadRequest, NotFound
from parlance.store.db import Database
from parlance.store.orm import Callback

log = logging.getLogger(__name__)
CHALLENGE_TIMEOUT = 5.0  # seconds the callback has to answer the challenge (Watson: 5 s)
NOTIFY_TIMEOUT = 10.0
MAX_URL = 2048


def signature(secret: str, payload: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), payload, hashlib.sha1).digest()).decode()


class Callbacks:
    def __init__(self, db: Database) -> None:
        self.db = db

    def register(self, owner: str, url: str, secret: str | None) -> tuple[dict[str, str], bool]:
        """Register `url` after its challenge; (body, created). An existing registration is kept."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > MAX_URL:
            raise BadRequest(f"The callback_url must be an http or https URL of at most {MAX_URL} characters")
        if self.secret_of(owner, url, required=False) is not None:
            return {"status": "already created", "url": url}, False
        challenge = secrets.token_urlsafe(24)
        headers = {"Accept": "text/plain"}
        if secret:
            headers["X-Callback-Signature"] = signature(secret, challenge.encode())
        try:
            answer = httpx.get(url, params={"challenge_string": challenge}, headers=headers, timeout=CHALLENGE_TIMEOUT)
        except httpx.HTTPError as exc:
            raise BadRequest(f"The callback URL could not be reached for its challenge: {exc}") from None
        if answer.status_code != 200 or answer.text.strip() != challenge:
            raise BadRequest(
                f"The callback URL did not answer the challenge: it must return status 200 with the "
                f"challenge_string as its text/plain body (got status {answer.status_code})"
            )
        try:
            with self.db.session() as s:
                s.add(Callback(owner=owner, url=url, user_secret=secret or None))
        except IntegrityError:  # registered concurrently
            return {"status": "already created", "url": url}, False
        return {"status": "created", "url": url}, True

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
        unregistered since the job was created is not notified."""
        secret = self.secret_of(owner, url, required=False)
        if secret is None:
            return
        payload = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if secret:
            headers["X-Callback-Signature"] = signature(secret, payload)
        try:
            httpx.post(url, content=payload, headers=headers, timeout=NOTIFY_TIMEOUT).raise_for_status()
        except httpx.HTTPError as exc:
            log.warning("callback %s for job %s failed: %s", url, body.get("id"), exc)
