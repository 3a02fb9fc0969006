"""Admin -> Users: the list, changing a user's role, name and email, disabling and enabling.

Creating users and their passwords are ``blog.services.users`` (shared with the command
line); one-time password links are ``blog.services.password_links``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import func, or_, select

from blog.extensions import db
from blog.models import PERMISSION_WORDS, ROLE_PERMISSIONS, Post, PostStatus, Role, User
from blog.services import ServiceError
from blog.services import users as user_service
from blog.text import bad_characters, like_pattern

log = logging.getLogger(__name__)

PER_PAGE = 50
SEARCH_MAX = 100


def role_descriptions() -> list[tuple[Role, list[str]]]:
    """Each role with what it may do in plain words, made from ROLE_PERMISSIONS."""
    return [
        (role, [words for flag, words in PERMISSION_WORDS.items() if flag in granted])
        for role, granted in ROLE_PERMISSIONS.items()
    ]


@dataclass(frozen=True)
class UserRow:
    user: User
    posts: int  # their posts and pages that are not in the trash


@dataclass(frozen=True)
class UserPage:
    rows: list[UserRow]
    total: int
    page: int
    pages: int
    counts: dict[str, int]  # users per role, and "all"


def list_users(role: str = "", search: str = "", page: int = 1) -> UserPage:
    """A page of users, oldest first, with their post counts (one query for the page)."""
    search = search.strip()
    if len(search) > SEARCH_MAX or bad_characters(search):
        raise ServiceError(f"A search is at most {SEARCH_MAX} plain characters.", field="s")
    where = []
    if role in {r.value for r in Role}:
        where.append(User.role == Role(role))
    if search:
        pattern = like_pattern(search.lower())
        where.append(
            or_(
                func.lower(User.username).like(pattern, escape="\\"),
                func.lower(User.display_name).like(pattern, escape="\\"),
                func.lower(User.email).like(pattern, escape="\\"),
            )
        )
    total = db.session.scalar(select(func.count()).select_from(User).where(*where)) or 0
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(page, 1), pages)
    posts = (
        select(func.count())
        .select_from(Post)
        .where(Post.author_id == User.id, Post.status != PostStatus.TRASH)
        .correlate(User)
        .scalar_subquery()
    )
    found = db.session.execute(
        select(User, posts)
        .where(*where)
        .order_by(User.id)
        .offset((page - 1) * PER_PAGE)
        .limit(PER_PAGE)
    ).all()
    per_role = dict(db.session.execute(select(User.role, func.count()).group_by(User.role)).all())
    counts = {r.value: per_role.get(r, 0) for r in Role}
    counts["all"] = sum(counts.values())
    return UserPage([UserRow(u, n) for u, n in found], total, page, pages, counts)


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id) if 0 < user_id < 2**31 else None
    if user is None:
        raise ServiceError("There is no such user.", status=404)
    return user


def _other_active_admins(user: User) -> int:
    """Active admins but ``user``, their rows locked on PostgreSQL until the commit, so two
    admins demoting each other at once cannot leave the site with none."""
    query = select(User.id).where(
        User.role == Role.ADMIN, User.active.is_(True), User.id != user.id
    )
    if db.session.connection().dialect.name == "postgresql":
        query = query.with_for_update()
    return len(db.session.scalars(query).all())


def _keep_an_admin(user: User, actor: User | None, what: str) -> None:
    """Refuse to take ``user`` out of the active admins when it is ``actor`` themselves
    or the last one."""
    if user.role != Role.ADMIN or not user.active:
        return
    if actor is not None and actor.id == user.id:
        raise ServiceError(
            f"You cannot {what} yourself: another admin must do it.", field="role", status=409
        )
    if _other_active_admins(user) == 0:
        raise ServiceError(
            f"You cannot {what} {user.username}: they are the last active admin. "
            "Make another user an admin first.",
            field="role",
            status=409,
        )


def update_user(
    user: User, actor: User | None, *, role: Role | str, display_name: str, email: str
) -> list[str]:
    """Change a user's role, display name and email; what changed, in words. A new display
    name shows on the posts at once (the page cache sees the users row change)."""
    new_role = user_service.check_role(role)
    display_name = user_service.check_display_name(display_name) or user.username
    email = user_service.check_email(email, user)
    changed = []
    if new_role != user.role:
        if new_role != Role.ADMIN:
            _keep_an_admin(user, actor, "demote")
        changed.append(f"role {user.role.value} → {new_role.value}")
        user.role = new_role
    if display_name != user.display_name:
        changed.append("display name")
        user.display_name = display_name
    if email != user.email:
        changed.append("email")
        user.email = email
    db.session.commit()
    if changed:
        log.info("user %s changed by %s: %s", user.username, _who(actor), ", ".join(changed))
    return changed


def _who(actor: User | None) -> str:
    return actor.username if actor is not None else "the command line"


def set_active(user: User, actor: User | None, active: bool) -> bool:
    """Disable or enable a user; True when it changed. Disabling ends every login at once,
    and their API tokens are refused while they stay disabled (kept for an enable)."""
    if user.active == active:
        return False
    if not active:
        _keep_an_admin(user, actor, "disable")
    user.active = active
    db.session.commit()
    log.info("user %s %s by %s", user.username, "enabled" if active else "disabled", _who(actor))
    if not active:
        user.session_token = None
        user_service.end_other_sessions(user)
    return True
