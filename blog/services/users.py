"""Users: creation, password hashing and checks, API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context
from sqlalchemy import delete, func, select, update

from blog.extensions import db
from blog.models import ApiToken, Permission, Role, User, UserSession, utcnow
from blog.services import ServiceError
from blog.text import bad_characters

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,60}$")
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1000  # what the login form takes
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


# --- logins (sessions) -------------------------------------------------------------------

#: How stale ``last_seen_at`` may get before a request writes it again (not every request).
SEEN_EVERY = timedelta(minutes=5)


def start_session(user: User, ip: str = "", user_agent: str = "") -> None:
    """A new login for ``user``: a row holding the hash of a fresh token, which the session
    cookie (and the remember-me cookie) carry through ``User.get_id``."""
    token = secrets.token_urlsafe(32)
    db.session.add(
        UserSession(user=user, token_hash=_digest(token), ip=ip[:45], user_agent=user_agent[:255])
    )
    user.last_login_at = utcnow()
    db.session.commit()
    user.session_token = token


def load_user(session_id: str) -> User | None:
    """Flask-Login loader: ``user_id:token``; the user only while that login's row exists
    (logging out, out everywhere or a password change deletes it)."""
    user_id, _, token = session_id.partition(":")
    if not user_id.isdigit() or not token:
        return None
    # The user and their login's row in one statement: every logged-in request asks.
    found = db.session.execute(
        select(User, UserSession.id, UserSession.last_seen_at)
        .join(UserSession, UserSession.user_id == User.id)
        .where(UserSession.token_hash == _digest(token), UserSession.user_id == int(user_id))
    ).first()
    if found is None or not found[0].active:
        return None  # disabling ends the rows too; this holds while a request races it
    user, row_id, last_seen_at = found
    now = utcnow()
    if now - last_seen_at > SEEN_EVERY:
        db.session.execute(
            update(UserSession).where(UserSession.id == row_id).values(last_seen_at=now)
        )
        db.session.commit()
    user.session_token = token
    return user


def end_session(user: User) -> None:
    """This login ends: its row goes, and with it every copy of its cookies."""
    if user.session_token:
        db.session.execute(
            delete(UserSession).where(UserSession.token_hash == _digest(user.session_token))
        )
        db.session.commit()
    user.session_token = None


def end_other_sessions(user: User, revoke_tokens: bool = False) -> tuple[int, int]:
    """Every login of ``user`` but the one this request runs in (all of them outside a
    request) ends; with ``revoke_tokens``, every API token too. How many of each."""
    keep = _digest(user.session_token) if user.session_token else None
    query = delete(UserSession).where(UserSession.user_id == user.id)
    if keep is not None:
        query = query.where(UserSession.token_hash != keep)
    sessions = db.session.execute(query).rowcount
    tokens = 0
    if revoke_tokens:
        tokens = db.session.execute(delete(ApiToken).where(ApiToken.user_id == user.id)).rowcount
    db.session.commit()
    return sessions, tokens


def sessions_of(user: User) -> list[UserSession]:
    return list(
        db.session.scalars(
            select(UserSession)
            .where(UserSession.user_id == user.id)
            .order_by(UserSession.last_seen_at.desc())
        )
    )


def is_current(user: User, row: UserSession) -> bool:
    return bool(user.session_token) and row.token_hash == _digest(user.session_token)


def find_user(username: str) -> User | None:
    return db.session.scalar(select(User).where(User.username == username))


EMAIL_MAX = 100
DISPLAY_NAME_MAX = 250
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")


def check_email(email: str, user: User | None = None) -> str:
    """``email`` trimmed, when it may be stored for ``user`` (None: a new user): empty, or one
    address of at most EMAIL_MAX characters that no other user has (lower case compared)."""
    email = email.strip()
    if not email:
        return ""
    if len(email) > EMAIL_MAX or not EMAIL_RE.match(email) or bad_characters(email):
        raise ServiceError(
            f"An email address is one address of at most {EMAIL_MAX} characters.", field="email"
        )
    if user is not None and email.lower() == user.email.lower():
        return email  # unchanged: an import may have left two users with one address
    query = select(User.id).where(func.lower(User.email) == email.lower())
    if user is not None:
        query = query.where(User.id != user.id)
    if db.session.scalar(query.limit(1)) is not None:
        raise ServiceError(f"Another user has the email address {email}.", field="email")
    return email


def check_display_name(display_name: str) -> str:
    display_name = display_name.strip()
    why = bad_characters(display_name)
    if len(display_name) > DISPLAY_NAME_MAX or why:
        raise ServiceError(
            f"A display name is at most {DISPLAY_NAME_MAX} plain characters"
            + (f" (this one {why})." if why else f" (this one has {len(display_name)})."),
            field="display_name",
        )
    return display_name


def check_role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise ServiceError(
            f"Unknown role {role!r}; use one of {', '.join(r.value for r in Role)}.", field="role"
        ) from None


def create_user(
    username: str,
    password: str | None,
    role: Role | str = Role.SUBSCRIBER,
    email: str = "",
    display_name: str = "",
) -> User:
    """A new user. ``password`` None: nobody can log in as them until a password is set (a
    one-time link, ``blog.services.password_links``)."""
    username = username.strip()
    if not USERNAME_RE.match(username):
        raise ServiceError(
            "A username is 1 to 60 letters, digits or the characters _ . @ -", field="username"
        )
    if find_user(username) is not None:
        raise ServiceError(f"The username {username!r} is taken.", field="username")
    if password is not None:
        check_password(password)
    role = check_role(role)
    user = User(
        username=username,
        email=check_email(email),
        display_name=check_display_name(display_name) or username,
        role=role,
        # No password: the hash of a secret nobody keeps, which no password verifies.
        password_hash=hash_password(password if password is not None else secrets.token_hex(32)),
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


def check_password(password: str) -> None:
    """The rules every new password follows (the command line, the admin, a one-time link)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ServiceError(
            f"The password must be at least {MIN_PASSWORD_LENGTH} characters.", field="password"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ServiceError(
            f"The password must be at most {MAX_PASSWORD_LENGTH} characters.", field="password"
        )


def set_password(user: User, password: str, revoke_tokens: bool = False) -> int:
    """A new password; every other login of the user ends. API tokens are kept (they are
    not passwords) unless ``revoke_tokens``; how many were revoked."""
    check_password(password)
    user.password_hash = hash_password(password)
    db.session.commit()
    return end_other_sessions(user, revoke_tokens)[1]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# --- API tokens -----------------------------------------------------------------------------

TOKEN_NAME_MAX = 100


def create_token(user: User, name: str = "", expires_at: datetime | None = None) -> str:
    """A new API token for ``user``. Only its hash is stored: show it now or never."""
    name = name.strip()
    if len(name) > TOKEN_NAME_MAX or bad_characters(name):
        raise ServiceError(
            f"A token's name is at most {TOKEN_NAME_MAX} plain characters.", field="name"
        )
    if expires_at is not None and expires_at <= utcnow():
        raise ServiceError("A token must expire in the future.", field="expires_at")
    token = "blog_" + secrets.token_urlsafe(32)
    db.session.add(
        ApiToken(
            user=user,
            token_hash=_digest(token),
            prefix=token[:12],
            name=name,
            expires_at=expires_at,
        )
    )
    db.session.commit()
    return token


def user_for_token(token: str) -> User | None:
    """The user of a live token (not expired, not revoked, the user active), or None."""
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    now = utcnow()
    if row is None or not row.user.active or (row.expires_at and row.expires_at <= now):
        return None
    if row.last_used_at is None or now - row.last_used_at > SEEN_EVERY:
        row.last_used_at = now
        db.session.commit()
    return row.user


def tokens_of(user: User | None = None) -> list[ApiToken]:
    """A user's tokens, or everyone's (``None``), newest first."""
    query = select(ApiToken).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    if user is not None:
        query = query.where(ApiToken.user_id == user.id)
    return list(db.session.scalars(query))


def revoke_token(token_id: int, actor: User | None) -> ApiToken:
    """Revoke a token: its owner, an admin (``actor``) or the command line (``None``)."""
    row = db.session.get(ApiToken, token_id) if 0 < token_id < 2**31 else None
    if row is None:
        raise ServiceError("There is no such token.", status=404)
    if actor is not None and row.user_id != actor.id and not actor.can(Permission.MANAGE_USERS):
        raise ServiceError("You can only revoke your own tokens.", status=403)
    db.session.delete(row)
    db.session.commit()
    return row
