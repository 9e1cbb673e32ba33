"""Service instances, API keys (stored as sha256) and IAM-compatible bearer tokens (HS256 JWTs)."""

from __future__ import annotations

import hashlib
import os
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import jwt
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from parlance.errors import Unauthorized
from parlance.settings import Settings
from parlance.store.db import Database
from parlance.store.orm import ApiKey, Instance

DEV_INSTANCE = "00000000-0000-0000-0000-000000000000"


def _hash(key: str) -> str:
    # Keys are 32 random bytes, so a fast hash is enough (no dictionary attack to slow down).
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class NewKey:
    instance_id: str
    apikey: str


class AuthService:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self._secret = self._load_secret(settings.data_dir / "token-secret")

    @staticmethod
    def _load_secret(path: Path) -> str:
        if not path.exists():
            # Replicas sharing the data directory may start together: write a whole file aside, then link it
            # into place, which fails if another got there first; everyone then reads the one that won.
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".token-secret-", dir=path.parent)
            try:
                with os.fdopen(fd, "w") as f:
                    f.write(secrets.token_hex(32))
                os.chmod(tmp, 0o600)
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                os.unlink(tmp)
        return path.read_text().strip()

    def create_key(self, *, instance_name: str = "default", instance_id: str | None = None) -> NewKey:
        """Create an API key, for a new service instance unless `instance_id` names an existing one."""
        apikey = secrets.token_urlsafe(32)
        with self.db.session() as s:
            if instance_id is None:
                inst = Instance(name=instance_name)
                s.add(inst)
                s.flush()
                instance_id = inst.id
            elif s.get(Instance, instance_id) is None:
                raise Unauthorized(f"No service instance {instance_id}")
            s.add(ApiKey(instance_id=instance_id, key_hash=_hash(apikey)))
        return NewKey(instance_id=instance_id, apikey=apikey)

    def has_keys(self) -> bool:
        with self.db.session() as s:
            return s.scalar(select(ApiKey.id).limit(1)) is not None

    def instance_for_key(self, apikey: str) -> str:
        with self.db.session() as s:
            row = s.scalar(select(ApiKey).where(ApiKey.key_hash == _hash(apikey)))
            if row is None:
                raise Unauthorized("Unauthorized: the API key is not valid")
            return row.instance_id

    def issue_token(self, apikey: str) -> dict[str, object]:
        """The IAM `/identity/token` response the IBM SDKs expect (they read `exp`/`iat` from the JWT)."""
        instance = self.instance_for_key(apikey)
        now = int(time.time())
        exp = now + self.settings.token_ttl_seconds
        token = jwt.encode({"sub": instance, "iat": now, "exp": exp}, self._secret, algorithm="HS256")
        return {
            "access_token": token,
            "refresh_token": "not_supported",
            "token_type": "Bearer",
            "expires_in": self.settings.token_ttl_seconds,
            "expiration": exp,
        }

    def instance_for_token(self, token: str) -> str:
        try:
            claims = jwt.decode(token, self._secret, algorithms=["HS256"])
        except jwt.ExpiredSignatureError:
            raise Unauthorized("Unauthorized: the access token has expired") from None
        except jwt.PyJWTError:
            raise Unauthorized("Unauthorized: the access token is not valid") from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:  # signed by us, yet naming no service instance
            raise Unauthorized("Unauthorized: the access token names no service instance")
        return subject

    def ensure_dev_instance(self) -> str:
        try:
            with self.db.session() as s:
                if s.get(Instance, DEV_INSTANCE) is None:
                    s.add(Instance(id=DEV_INSTANCE, name="development (no auth)"))
        except IntegrityError:  # a concurrent first request (or another replica) inserted it first
            pass
        return DEV_INSTANCE
