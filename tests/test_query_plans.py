"""Every query the busy pages make is answered from an index, on SQLite and PostgreSQL.

The statements a page sends are captured as it is served, then each is explained on the
same database: SQLite's ``EXPLAIN QUERY PLAN`` must not scan a table that grows with the
site (a comment, post or log table read row by row, or sorted whole), and PostgreSQL's
``EXPLAIN``, with sequential scans discouraged so that any usable index is taken, must not
fall back to a sequential scan of one. A missing index fails here long before a site has
the million comments that would make it slow.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from comment_helpers import add_comment, comment_data, set_discussion
from conftest import create_post, create_user, login
from flask import Flask
from flask.testing import FlaskClient

from blog.extensions import db
from blog.moderation import CommentStatus

#: Tables whose size grows with the site; small ones (settings, users, tags) may be scanned.
GROWING = ("comments", "posts", "moderation_log", "post_tags", "post_categories")
SQLITE_SCAN = re.compile(r"\bSCAN (" + "|".join(GROWING) + r")\b")
SQLITE_SORT = re.compile(r"USE TEMP B-TREE FOR ORDER BY")
# An index search of the comments by status alone reads a whole tab of the site: fine for
# the queue's newest page (LIMIT), not otherwise.
SQLITE_BY_STATUS = re.compile(r"SEARCH comments USING (?:COVERING )?INDEX \w+ \(status=\?\)")
POSTGRES_SCAN = re.compile(r"Seq Scan on (" + "|".join(GROWING) + r")\b")
# Newest first over a whole table (the All tab, the log): an ordered walk of an index that
# stops after the page's LIMIT rows. Fine, as long as nothing is sorted.
SQLITE_ORDERED_WALK = re.compile(
    r"\bSCAN (" + "|".join(GROWING) + r") USING (?:COVERING )?INDEX \w+$", re.M
)
# One author's own posts, found by the author's index: what an author (no moderator)
# sees of the queue and the log is bounded by their own posts, and sorting that is fine.
SQLITE_ONE_AUTHOR = re.compile(r"SEARCH posts USING (?:COVERING )?INDEX \w+ \(author_id=\?\)")


@contextmanager
def captured(app: Flask) -> Iterator[list[tuple[str, object]]]:
    """The statements (with their parameters) sent to the database meanwhile."""
    seen: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper()
        if not executemany and verb in ("SELECT", "UPDATE", "DELETE", "WITH"):
            seen.append((statement, parameters))

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def plan_of(app: Flask, statement: str, parameters: object) -> str:
    with app.app_context(), db.engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        cursor = raw.cursor()
        if connection.dialect.name == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            lines = [row[-1] for row in cursor.fetchall()]
        else:
            cursor.execute("SET enable_seqscan = off")
            cursor.execute("EXPLAIN " + statement, parameters)
            lines = [row[0] for row in cursor.fetchall()]
            raw.rollback()
        cursor.close()
    return "\n".join(lines)


# The posts per status (the admin's tabs and dashboard) and a posts list's total are
# counted from a covering index of the posts table: a site has thousands of posts, not
# millions, and this is no reader's page. Comments are never counted this way (their
# tallies are kept).
SQLITE_POST_COUNTS = re.compile(r"^SCAN posts USING COVERING INDEX \w+$", re.M)


def scan_lines(plan: str) -> list[str]:
    """The lines of a SQLite plan that read a growing table by SCAN."""
    return [line for line in plan.splitlines() if SQLITE_SCAN.search(line)]


def full_scans(app: Flask, statements: list[tuple[str, object]]) -> list[str]:
    """Each statement that reads a growing table whole, with its plan."""
    found = []
    for statement, parameters in statements:
        plan = plan_of(app, statement, parameters)
        walk = (
            "LIMIT" in statement
            and not SQLITE_SORT.search(plan)
            and all(SQLITE_ORDERED_WALK.search(line) for line in scan_lines(plan))
        )
        post_counts = (
            re.match(r"SELECT (posts\.status\b.*)?count\(\*\)", statement, re.S)
            and re.search(r"\nFROM posts\b", statement)
            and all(SQLITE_POST_COUNTS.search(line) for line in scan_lines(plan))
        )
        if post_counts:
            continue
        if (SQLITE_SCAN.search(plan) and not walk) or POSTGRES_SCAN.search(plan):
            found.append(f"{statement}\n--> {plan}")
        elif SQLITE_ONE_AUTHOR.search(plan):
            continue
        elif SQLITE_SORT.search(plan) and re.search(r"\bFROM comments\b", statement):
            found.append(f"{statement}\n--> sorts every matching comment: {plan}")
        elif SQLITE_BY_STATUS.search(plan) and "LIMIT" not in statement:
            found.append(f"{statement}\n--> reads every comment of a status: {plan}")
    return found


@pytest.fixture
def site(app: Flask) -> dict[str, object]:
    """Posts with threaded comments of every status, an author, a moderator."""
    create_user(app, "admin", "admin")
    create_user(app, "writer", "author")
    create_user(app, "mod", "moderator")
    posts = [create_post(app, "admin", title=f"Post {n}", tags=["a", "b"]) for n in range(3)]
    own = create_post(app, "writer", title="The writer's post")
    for post_id, _ in [*posts, own]:
        parent = None
        for n, status in enumerate([CommentStatus.APPROVED] * 4 + list(CommentStatus)):
            comment = add_comment(
                app, post_id, f"Comment {n}", status=status, parent_id=parent, email=f"r{n}@x.org"
            )
            if status == CommentStatus.APPROVED and n % 2:
                parent = comment
    return {"posts": posts, "own": own}


def read_as(client: FlaskClient, who: str | None) -> FlaskClient:
    if who:
        assert login(client, who).status_code == 302
    return client


def check(app: Flask, action: Callable[[], object]) -> None:
    with captured(app) as statements:
        action()
    assert statements, "nothing was asked of the database"
    assert full_scans(app, statements) == []


@pytest.mark.parametrize("paged", [False, True])
def test_the_post_page(app: Flask, client: FlaskClient, site, paged: bool) -> None:
    if paged:
        set_discussion(app, page_comments=True, comments_per_page=2)
    path = site["posts"][1][1]
    check(app, lambda: client.get(path).status_code == 200 or pytest.fail(path))
    if paged:
        check(app, lambda: client.get(path + "?cpage=1"))
        check(app, lambda: client.get(path + "?cpage=2"))


def test_the_front_page_archives_and_feeds(app: Flask, client: FlaskClient, site) -> None:
    for path in ("/", "/page/2/", "/tag/a/", "/archives/", "/feed/", "/comments/feed/"):
        check(app, lambda path=path: client.get(path))


@pytest.mark.parametrize("who", ["admin", "mod", "writer"])
@pytest.mark.parametrize("status", ["pending", "approved", "spam", "trash"])
def test_the_moderation_queue(app: Flask, client: FlaskClient, site, who: str, status) -> None:
    read_as(client, who)
    check(app, lambda: client.get(f"/admin/comments?status={status}").status_code == 200)


def test_a_comment_post_and_a_reply(app: Flask, client: FlaskClient, site) -> None:
    path = site["posts"][0][1]
    check(app, lambda: client.post(path, data=comment_data(comment="A new one.")))
    again = comment_data(comment="Again, a reader.", author="Zed", email="z@x.org")
    check(app, lambda: client.post(path, data=again))


def test_moderating(app: Flask, client: FlaskClient, site) -> None:
    read_as(client, "admin")
    with app.app_context():
        ids = list(db.session.scalars(sa.text("SELECT id FROM comments ORDER BY id")))
    for action in ("approve", "spam", "unspam", "trash", "restore", "unapprove"):
        form = {"action": action, "comment_id": ids[5]}
        check(app, lambda form=form: client.post("/admin/comments/action", data=form))
    form = {"action": "delete", "ids": ids[4]}
    check(app, lambda: client.post("/admin/comments/action", data=form))


def test_the_detector_sees_a_full_scan(app: Flask, site) -> None:
    """The check itself: a query no index can answer is reported on this backend."""
    with captured(app) as statements, app.app_context():
        db.session.execute(sa.text("SELECT count(*) FROM comments WHERE length(content) > 3"))
    assert len(full_scans(app, statements)) == 1


@pytest.mark.parametrize("who", ["admin", "writer"])
def test_the_queue_counts_nothing_on_each_visit(app: Flask, client, site, who: str) -> None:
    """Tab counts and the tab's total come from the kept tallies, not from count(*)."""
    read_as(client, who)
    with captured(app) as statements:
        assert client.get("/admin/comments?status=pending").status_code == 200
    # Counting one page's commenters' histories (by email, from an index) is fine; counting
    # a tab is not.
    counting = [
        s
        for s, _ in statements
        if re.search(r"count\(", s, re.I) and "comments" in s and "lower(comments.email)" not in s
    ]
    assert counting == []
    # A search is counted: it is no tab.
    with captured(app) as statements:
        assert client.get("/admin/comments?status=pending&s=Comment").status_code == 200
    assert any(re.search(r"count\(", s, re.I) for s, _ in statements)


@pytest.mark.parametrize("who", ["admin", "writer"])
def test_the_all_tab(app: Flask, client: FlaskClient, site, who: str) -> None:
    read_as(client, who)
    check(app, lambda: client.get("/admin/comments?status=all").status_code == 200)


@pytest.mark.parametrize("who", ["admin", "mod", "writer"])
@pytest.mark.parametrize(
    "query",
    ["", "?moderator=auto", "?moderator=1", "?action=approve", "?from=2026-01-01&to=2026-12-31"],
)
def test_the_moderation_log(app: Flask, client: FlaskClient, site, who: str, query: str) -> None:
    read_as(client, who)
    with app.app_context():
        newest = db.session.scalar(sa.text("SELECT max(id) FROM moderation_log"))
    check(app, lambda: client.get(f"/admin/comments/log{query}").status_code == 200)
    separator = "&" if query else "?"
    check(app, lambda: client.get(f"/admin/comments/log{query}{separator}before={newest}"))


@pytest.mark.parametrize("who", ["admin", "mod", "writer"])
def test_the_dashboard(app: Flask, client: FlaskClient, site, who: str) -> None:
    read_as(client, who)
    check(app, lambda: client.get("/admin/").status_code == 200)


@pytest.mark.parametrize("who", ["admin", "writer"])
@pytest.mark.parametrize("query", ["", "?status=draft", "?tag=a", "?author=1"])
def test_the_posts_list(app: Flask, client: FlaskClient, site, who: str, query: str) -> None:
    """(A search reads every post's text, as the public search does: not checked here.)"""
    read_as(client, who)
    check(app, lambda: client.get(f"/admin/posts{query}").status_code == 200)


@pytest.mark.parametrize("query", ["", "?role=author", "?s=writer"])
def test_the_users_list(app: Flask, client: FlaskClient, site, query: str) -> None:
    """Each user's post count comes from the author's index, not a scan of the posts."""
    read_as(client, "admin")
    check(app, lambda: client.get(f"/admin/users{query}").status_code == 200)
