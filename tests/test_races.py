"""Requests that race: the rules hold when the same thing arrives many times at once.

Each test serves the app on a real port (Werkzeug, a thread per request, each with its own
database connection) and releases a burst of requests together with a barrier, then counts
what the database holds: one comment for twenty identical forms, one approval (one count,
one log row) for ten simultaneous approvals, one deletion and 404s for the rest. The same
tests run on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import json
import urllib.parse
from collections import Counter

import pytest
import sqlalchemy
from comment_helpers import add_comment, comment_data, set_discussion
from conftest import create_post, create_user, make_app
from flask import Flask
from live import at_once, request, served
from sqlalchemy import func, select

from blog.extensions import db
from blog.models import Comment, CommentTally, ModerationLog, Post
from blog.moderation import CommentStatus
from blog.services.users import create_token, find_user

BURST = 20


def form(**fields: str | int) -> bytes:
    return urllib.parse.urlencode(comment_data(**fields)).encode()


@pytest.fixture
def site(app: Flask, database_uri: str, tmp_path) -> Flask:
    """An app with the real flood rule, posting allowed at once (no time trap)."""
    served_app = make_app(database_uri, tmp_path / "served", COMMENT_FLOOD_SECONDS=60)
    create_user(served_app, "admin", "admin")
    return served_app


def comments_of(app: Flask, post_id: int) -> list[Comment]:
    with app.app_context():
        return list(db.session.scalars(select(Comment).where(Comment.post_id == post_id)))


def test_twenty_identical_forms_at_once_store_one_comment(site: Flask) -> None:
    post_id, path = create_post(site, "admin", title="Twenty at once")
    body = form(comment="Exactly once, please.")
    with served(site) as base:
        codes = at_once([lambda: request(base + path, body, "POST")] * BURST)
    assert codes[303] == 1, codes
    assert sum(codes.values()) == BURST and codes.keys() <= {303, 400, 409, 429}
    assert len(comments_of(site, post_id)) == 1


def test_the_flood_rule_holds_for_a_burst_from_one_address(site: Flask) -> None:
    post_id, path = create_post(site, "admin", title="Flood")
    bodies = [form(comment=f"Different {n}", email=f"r{n}@example.org") for n in range(BURST)]
    with served(site) as base:
        codes = at_once([lambda b=b: request(base + path, b, "POST") for b in bodies])
    assert codes[303] == 1, codes
    assert len(comments_of(site, post_id)) == 1


def test_with_the_flood_rule_off_a_burst_is_all_taken(app: Flask, database_uri: str, tmp_path):
    """Off means off: a comment stored by another request meanwhile is no flood."""
    open_app = make_app(database_uri, tmp_path / "open", COMMENT_FLOOD_SECONDS=0)
    create_user(open_app, "admin", "admin")
    post_id, path = create_post(open_app, "admin", title="No flood rule")
    bodies = [form(comment=f"Different {n}", email=f"r{n}@example.org") for n in range(BURST)]
    with served(open_app) as base:
        codes = at_once([lambda b=b: request(base + path, b, "POST") for b in bodies])
    assert codes == Counter({303: BURST})
    assert len(comments_of(open_app, post_id)) == BURST


def _api(base: str, token: str, method: str, path: str, body: dict | None = None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return request(base + "/api/v1" + path, data, method, **headers)


def test_ten_approvals_at_once_count_log_and_notify_once(site: Flask, monkeypatch) -> None:
    from blog.services import notify

    told: list[int] = []
    monkeypatch.setattr(notify, "comment_approved", lambda comment: told.append(comment.id))
    set_discussion(site, comment_previously_approved=True)
    post_id, _ = create_post(site, "admin", title="Approve me")
    held = add_comment(site, post_id, "Waiting.", status=CommentStatus.PENDING)
    with site.app_context():
        token = create_token(find_user("admin"))
    with served(site) as base:
        codes = at_once(
            [lambda: _api(base, token, "PATCH", f"/comments/{held}", {"status": "approved"})] * 10
        )
    assert codes == Counter({200: 10}), codes
    with site.app_context():
        assert db.session.get(Comment, held).status == CommentStatus.APPROVED
        assert db.session.get(Post, post_id).comment_count == 1
        assert db.session.get(Post, post_id).pending_count == 0
        approvals = db.session.scalar(
            select(func.count()).where(
                ModerationLog.comment_id == held, ModerationLog.to_status == CommentStatus.APPROVED
            )
        )
        assert approvals == 1
        tallies = dict(db.session.execute(select(CommentTally.status, CommentTally.count)).all())
        assert tallies[CommentStatus.APPROVED] == 1 and tallies[CommentStatus.PENDING] == 0
    assert told == [held]


def test_deleting_the_same_comment_at_once_is_one_deletion_and_404s(site: Flask) -> None:
    post_id, _ = create_post(site, "admin", title="Delete me")
    doomed = add_comment(site, post_id, "Going.")
    with site.app_context():
        token = create_token(find_user("admin"))
    with served(site) as base:
        codes = at_once([lambda: _api(base, token, "DELETE", f"/comments/{doomed}")] * 10)
    assert codes[204] == 1 and codes[404] == 9, codes
    with site.app_context():
        assert db.session.get(Post, post_id).comment_count == 0
        tallies = dict(db.session.execute(select(CommentTally.status, CommentTally.count)).all())
        assert tallies[CommentStatus.APPROVED] == 0


def test_a_request_never_holds_two_pooled_connections(app: Flask, client) -> None:
    """A request that took a second connection while holding its session's first would,
    under a burst, leave every pooled connection held by a request waiting for another
    (and, on PostgreSQL, for the advisory lock a holder took): a pool timeout, then 500s.
    The page cache reads its versions on the session's own connection."""
    create_user(app, "admin", "admin")
    _post_id, path = create_post(app, "admin", title="One connection")
    held: list[int] = [0]
    most: list[int] = [0]

    def checkout(*_args: object) -> None:
        held[0] += 1
        most[0] = max(most[0], held[0])

    def checkin(*_args: object) -> None:
        held[0] -= 1

    with app.app_context():
        engine = db.engine
    sqlalchemy.event.listen(engine, "checkout", checkout)
    sqlalchemy.event.listen(engine, "checkin", checkin)
    try:
        assert client.get(path).status_code == 200  # a miss, rendered and stored
        assert client.get("/").status_code == 200
        answer = client.post(path, data=comment_data(comment="On one connection."))
        assert answer.status_code == 303
        assert client.get(path).status_code == 200
    finally:
        sqlalchemy.event.remove(engine, "checkout", checkout)
        sqlalchemy.event.remove(engine, "checkin", checkin)
    assert most[0] == 1
