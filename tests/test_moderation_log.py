"""The moderation log page: every decision, filtered, paged by keyset, with Undo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from comment_helpers import (
    add_comment,
    by_id,
    comment_id_from,
    get_comment,
    page,
    post_comment,
    text,
    with_class,
)
from conftest import create_post, create_user, login
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from blog.extensions import db
from blog.models import ModerationLog
from blog.moderation import CommentStatus
from blog.services import modlog

PENDING, APPROVED, SPAM = CommentStatus.PENDING, CommentStatus.APPROVED, CommentStatus.SPAM


@pytest.fixture
def post(app: Flask, admin: str) -> tuple[int, str]:
    return create_post(app, admin, title="Logged post")


def act(client: FlaskClient, action: str, *ids: int):
    return client.post(
        "/admin/comments/action", data={"action": action, "ids": [str(i) for i in ids]}
    )


def log_ids(client: FlaskClient, url: str) -> list[int]:
    response = client.get(url)
    assert response.status_code == 200
    rows = page(response).iter("tr")
    return [
        int(tr.get("id").split("-")[1]) for tr in rows if (tr.get("id") or "").startswith("log-")
    ]


def row_ids(app: Flask, **where) -> list[int]:
    with app.app_context():
        query = select(ModerationLog.id).order_by(ModerationLog.id.desc())
        for name, value in where.items():
            query = query.where(getattr(ModerationLog, name) == value)
        return list(db.session.scalars(query))


def test_every_decision_is_listed_newest_first_with_who_what_and_why(
    app: Flask, admin_client: FlaskClient, post
) -> None:
    comment_id = add_comment(app, post[0], "Buy now", status=PENDING, author="Spammy")
    act(admin_client, "spam", comment_id)
    act(admin_client, "unspam", comment_id)
    root = page(admin_client.get("/admin/comments/log"))
    rows = [tr for tr in root.iter("tr") if (tr.get("id") or "").startswith("log-")]
    assert len(rows) == 2
    newest = text(rows[0])
    assert "marked as not spam" in newest and "spam → pending" in newest
    assert f"#{comment_id} by Spammy" in newest and "on Logged post" in newest
    assert "Buy now" in newest
    link = next(a for a in rows[0].iter("a") if "#" in text(a))
    assert link.get("href") == f"/admin/comments?status=all&comment={comment_id}"
    # The link shows that one comment, in the queue, with its actions.
    response = admin_client.get(link.get("href"))
    assert [li.get("data-comment-id") for li in with_class(page(response), "queue-item")] == [
        str(comment_id)
    ]
    # Only the newest decision can be undone; the older one is not offered.
    undo_forms = [f for f in root.iter("form") if f.get("action", "").endswith("/undo")]
    assert len(undo_forms) == 1 and undo_forms[0] in list(rows[0].iter("form"))


def test_undo_from_the_log_comes_back_to_the_log(
    app: Flask, admin_client: FlaskClient, post
) -> None:
    comment_id = add_comment(app, post[0], status=PENDING)
    act(admin_client, "approve", comment_id)
    response = admin_client.post(
        f"/admin/comments/{comment_id}/undo", data={"next": "/admin/comments/log?action=approve"}
    )
    assert response.headers["Location"] == "/admin/comments/log?action=approve"
    assert get_comment(app, comment_id).status == PENDING
    root = page(admin_client.get("/admin/comments/log"))
    assert "Undone: the comment is pending again." in text(root)
    approved = by_id(root, f"log-{row_ids(app, action='approve')[0]}")
    assert "undone" in text(approved) and "is-undone" in approved.get("class")
    # The undo is itself the last change now, and an undo is not undone from here.
    assert not [f for f in root.iter("form") if f.get("action", "").endswith("/undo")]


def test_filters_by_moderator_action_and_day(app: Flask, admin: str, admin_client, post) -> None:
    create_user(app, "mia", "moderator")
    mia = app.test_client()
    login(mia, "mia")
    first, second, third = (add_comment(app, post[0], status=PENDING) for _ in range(3))
    act(admin_client, "approve", first)
    act(mia, "spam", second)
    act(mia, "trash", third)
    with app.app_context():
        mia_id = db.session.scalar(
            select(ModerationLog.actor_id).where(ModerationLog.action == "spam")
        )
    assert log_ids(admin_client, f"/admin/comments/log?moderator={mia_id}") == row_ids(
        app, actor_id=mia_id
    )
    assert len(row_ids(app, actor_id=mia_id)) == 2
    assert log_ids(admin_client, "/admin/comments/log?action=spam") == row_ids(app, action="spam")
    # "nobody": the rules' own decisions, such as holding a new comment.
    submitted = comment_id_from(post_comment(app.test_client(), post[1]))
    automatic = log_ids(admin_client, "/admin/comments/log?moderator=auto")
    assert automatic == row_ids(app, comment_id=submitted, action="submitted")
    assert "submitted, pending" in text(
        page(admin_client.get("/admin/comments/log?moderator=auto"))
    )
    # Days are the site's days (UTC here); the spam decision moved to three days ago.
    with app.app_context():
        old = datetime.now(UTC) - timedelta(days=3)
        db.session.execute(
            update(ModerationLog).where(ModerationLog.action == "spam").values(created_at=old)
        )
        db.session.commit()
    day = old.date().isoformat()
    assert log_ids(admin_client, f"/admin/comments/log?from={day}&to={day}") == row_ids(
        app, action="spam"
    )
    assert row_ids(app, action="spam")[0] not in log_ids(
        admin_client, f"/admin/comments/log?from={(old + timedelta(days=1)).date().isoformat()}"
    )
    # A date that is not one is said to be wrong, and ignored.
    response = admin_client.get("/admin/comments/log?from=yesterday&action=nonsense")
    assert response.status_code == 200
    assert "“yesterday” is not a date" in text(page(response))
    assert "No decisions match these filters." in text(page(response))


def test_pages_go_back_by_keyset_without_gaps_or_repeats(
    app: Flask, admin_client: FlaskClient, post, monkeypatch
) -> None:
    monkeypatch.setattr(modlog, "PER_PAGE", 4)
    ids = [add_comment(app, post[0], status=PENDING) for _ in range(9)]
    for comment_id in ids:
        act(admin_client, "approve", comment_id)
    # Same timestamps break ties by id, so no row is skipped or shown twice.
    with app.app_context():
        same = datetime.now(UTC)
        db.session.execute(update(ModerationLog).values(created_at=same))
        db.session.commit()
    seen: list[int] = []
    url = "/admin/comments/log"
    for _ in range(10):
        response = admin_client.get(url)
        seen += log_ids(admin_client, url)
        older = [a for a in page(response).iter("a") if a.get("rel") == "next"]
        if not older:
            break
        url = older[0].get("href")
        assert "before=" in url
    assert seen == row_ids(app)
    assert len(seen) == 9  # three pages: 4, 4 and 1


def test_an_author_reads_only_decisions_on_their_own_posts(
    app: Flask, admin: str, admin_client: FlaskClient, post
) -> None:
    create_user(app, "otto", "author")
    own_post = create_post(app, "otto", title="Otto's")
    mine = add_comment(app, own_post[0], status=PENDING)
    theirs = add_comment(app, post[0], status=PENDING)
    act(admin_client, "approve", mine, theirs)
    otto = app.test_client()
    login(otto, "otto")
    shown = log_ids(otto, "/admin/comments/log")
    assert shown == row_ids(app, comment_id=mine)
    assert set(shown).isdisjoint(row_ids(app, comment_id=theirs))
    subscriber = app.test_client()
    create_user(app, "sub", "subscriber")
    login(subscriber, "sub")
    assert subscriber.get("/admin/comments/log").status_code == 403
    assert app.test_client().get("/admin/comments/log").status_code == 302


def test_a_deleted_comment_is_named_in_its_row(app: Flask, admin_client: FlaskClient, post) -> None:
    comment_id = add_comment(app, post[0], status=SPAM)
    act(admin_client, "delete", comment_id)
    root = page(admin_client.get("/admin/comments/log?action=delete"))
    row = next(tr for tr in root.iter("tr") if (tr.get("id") or "").startswith("log-"))
    assert f"comment {comment_id} deleted permanently by admin" in text(row)
    assert "deleted" in text(row)
