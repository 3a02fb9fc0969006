"""The dashboard shows what needs attention: held comments oldest first with their age,
recent comments, the user's drafts and the scheduled posts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from comment_helpers import add_comment, page, text
from conftest import create_post, create_user, login
from flask import Flask
from flask.testing import FlaskClient

from blog.moderation import CommentStatus
from blog.templating import age

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("then", "expected"),
    [
        (NOW - timedelta(seconds=30), "under a minute"),
        (NOW - timedelta(minutes=1, seconds=5), "1 minute"),
        (NOW - timedelta(minutes=59), "59 minutes"),
        (NOW - timedelta(hours=3, minutes=50), "4 hours"),
        (NOW - timedelta(days=1), "1 day"),
        (NOW - timedelta(days=13), "2 weeks"),
        (NOW - timedelta(days=65), "2 months"),
        (NOW - timedelta(days=800), "2 years"),
        (NOW + timedelta(days=2, hours=1), "2 days"),  # a future time: how long until
        (None, ""),
    ],
)
def test_age_rounded_in_the_largest_unit(then, expected: str) -> None:
    assert age(then, NOW) == expected


def box(response, title: str):
    root = page(response)
    for section in root.iter("section"):
        heading = next(section.iter("h2"), None)
        if heading is not None and text(heading) == title:
            return section
    return None


def items(section) -> list[str]:
    return [text(li) for li in section.iter("li")]


def test_held_comments_oldest_first_with_their_age(
    app: Flask, admin: str, admin_client: FlaskClient
) -> None:
    post_id, _ = create_post(app, admin, title="Busy post")
    now = datetime.now(UTC)
    for days, author in ((1, "Newer"), (9, "Oldest"), (3, "Middle")):
        add_comment(
            app,
            post_id,
            f"Words of {author}.",
            status=CommentStatus.PENDING,
            author=author,
            created_at=now - timedelta(days=days),
            reasons=["first comment from this email"],
        )
    add_comment(app, post_id, "Spam words.", status=CommentStatus.SPAM, author="Spammer")
    response = admin_client.get("/admin/")
    held = items(box(response, "Waiting longest for a moderator"))
    assert [line.split(" on ")[0] for line in held] == ["Oldest", "Middle", "Newer"]
    assert "waiting 1 week · first comment from this email" in held[0]
    assert "waiting 3 days" in held[1]
    recent = items(box(response, "Recent comments"))
    assert [line.split(" on ")[0] for line in recent] == ["Newer", "Middle", "Oldest"]
    assert all("held" in line for line in recent)
    assert not any("Spammer" in line for line in recent)  # spam needs no attention
    links = [a.get("href") for a in box(response, "Waiting longest for a moderator").iter("a")]
    assert links[-1] == "/admin/comments?status=pending&order=oldest"


def test_the_queue_can_be_read_oldest_first(
    app: Flask, admin: str, admin_client: FlaskClient
) -> None:
    post_id, _ = create_post(app, admin)
    now = datetime.now(UTC)
    old = add_comment(
        app, post_id, status=CommentStatus.PENDING, created_at=now - timedelta(days=2)
    )
    new = add_comment(app, post_id, status=CommentStatus.PENDING, created_at=now)
    root = page(admin_client.get("/admin/comments?status=pending&order=oldest"))
    shown = [li.get("data-comment-id") for li in root.iter("li") if li.get("data-comment-id")]
    assert shown == [str(old), str(new)]


def test_nothing_waiting_is_said(admin_client: FlaskClient) -> None:
    response = admin_client.get("/admin/")
    assert "Nothing is waiting" in text(box(response, "Waiting longest for a moderator"))
    assert "No drafts." in text(box(response, "Your drafts"))
    assert "Nothing scheduled." in text(box(response, "Scheduled"))


def test_drafts_are_ones_own_and_scheduled_are_every_upcoming_for_editors(
    app: Flask, admin: str
) -> None:
    create_user(app, "ed", "editor")
    create_user(app, "otto", "author")
    create_post(app, "otto", title="Otto's draft", action="draft")
    create_post(app, "ed", title="Ed's draft", action="draft")
    soon = datetime.now(UTC) + timedelta(days=2)
    create_post(app, "otto", title="Otto's scheduled", action="schedule", published_at=soon)
    create_post(
        app, "ed", title="Ed's later", action="schedule", published_at=soon + timedelta(days=5)
    )
    ed = app.test_client()
    login(ed, "ed")
    response = ed.get("/admin/")
    assert [line.split(" edited")[0] for line in items(box(response, "Your drafts"))] == [
        "Ed's draft"
    ]
    scheduled = items(box(response, "Scheduled"))
    assert [line.split("20")[0].strip() for line in scheduled] == ["Otto's scheduled", "Ed's later"]
    assert "(in 2 days) · by otto" in scheduled[0]
    otto = app.test_client()
    login(otto, "otto")
    response = otto.get("/admin/")
    assert [line.split("20")[0].strip() for line in items(box(response, "Scheduled"))] == [
        "Otto's scheduled"
    ]
    # An author moderates only comments on their own posts: the boxes say so by what they list.
    assert box(response, "Waiting longest for a moderator") is not None


def test_a_moderator_sees_comments_and_no_writing_boxes(app: Flask, admin: str) -> None:
    create_user(app, "mod", "moderator")
    client = app.test_client()
    login(client, "mod")
    response = client.get("/admin/")
    assert box(response, "Recent comments") is not None
    assert box(response, "Your drafts") is None and box(response, "Scheduled") is None
    create_user(app, "sub", "subscriber")
    reader = app.test_client()
    login(reader, "sub")
    response = reader.get("/admin/")
    assert box(response, "Recent comments") is None and box(response, "Your drafts") is None
