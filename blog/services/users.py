"""Users: creation, password hashing and checks, API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context
from sqlalchemy import select

from blog.extensions import db
from blog.models import ApiToken, Role, User, utcnow
from blog.services import ServiceError

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,60}$")
MIN_PASSWORD_LENGTH = 8
_DEFAULT_COST = PasswordHasher()


@lru_cache(maxsize=4)
def _hasher_for(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


def _hasher() -> PasswordHasher:
    """Argon2id with the configured cost; raising the cost rehashes passwords at next login."""
    config = current_app.config if has_app_context() else {}
    return _hasher_for(
        int(config.get("ARGON2_TIME_COST", _DEFAULT_COST.time_cost)),
        int(config.get("ARGON2_MEMORY_COST", _DEFAULT_COST.memory_cost)),
        int(config.get("ARGON2_PARALLELISM", _DEFAULT_COST.parallelism)),
    )


@lru_cache(maxsize=4)
def _dummy_hash(hasher: PasswordHasher) -> str:
    """Verified against when the user does not exist, so a login takes as long either way."""
    return hasher.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def load_user(session_id: str) -> User | None:
    """Flask-Login loader: the id carries the session version, see ``User.get_id``."""
    user_id, _, version = session_id.partition(":")
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or str(user.session_version) != version:
        return None
    return user


def find_user(username: str) -> User | None:
    return db.session.scalar(select(User).where(User.username == username))


def create_user(
    username: str,
    password: str,
    role: Role | str = Role.SUBSCRIBER,
    email: str = "",
    display_name: str = "",
) -> User:
    username = username.strip()
    if not USERNAME_RE.match(username):
        raise ServiceError(
            "A username is 1 to 60 letters, digits or the characters _ . @ -", field="username"
        )
    if find_user(username) is not None:
        raise ServiceError(f"The username {username!r} is taken.", field="username")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ServiceError(
            f"The password must be at least {MIN_PASSWORD_LENGTH} characters.", field="password"
        )
    try:
        role = Role(role)
    except ValueError:
        raise ServiceError(
            f"Unknown role {role!r}; use one of {', '.join(r.value for r in Role)}.", field="role"
        ) from None
    user = User(
        username=username,
        email=email.strip(),
        display_name=display_name.strip() or username,
        role=role,
        password_hash=hash_password(password),
    )
    db.session.add(user)
    db.session.commit()
    return user


def authenticate(username: str, password: str) -> User | None:
    """The user for these credentials, or None. Rehashes when the parameters changed."""
    user = find_user(username.strip())
    hasher = _hasher()
    try:
        hasher.verify(user.password_hash if user else _dummy_hash(hasher), password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        db.session.commit()
    return user


def set_password(user: User, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ServiceError(
            f"The password must be at least {MIN_PASSWORD_LENGTH} characters.", field="password"
        )
    user.password_hash = hash_password(password)
    user.session_version += 1  # every other session of this user ends
    db.session.commit()


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(user: User) -> str:
    """A new API token for ``user``. Only its hash is stored: show it now or never."""
    token = "blog_" + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user=user, token_hash=_token_digest(token), prefix=token[:12]))
    db.session.commit()
    return token


def user_for_token(token: str) -> User | None:
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_digest(token)))
    if row is None or not row.user.active:
        return None
    row.last_used_at = utcnow()
    db.session.commit()
    return row.user
