"""A commenter's personal data: `flask privacy export|erase|purge-ips` and the admin page.

Export gives everything stored about an email (and nothing about anyone else); erase
anonymises or deletes, logged, with counts, fragments and cached pages kept right;
purge-ips forgets addresses after COMMENT_IP_RETENTION_DAYS.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from blog.extensions import db
from blog.models import Comment, ModerationLog, OutboxMessage, Post, utcnow
from blog.moderation import CommentStatus
from tests.comment_helpers import add_comment, all_comments, by_id, page, text, with_class
from tests.conftest import create_post, create_user, login


@pytest.fixture
def site(app, admin):
    post_id, path = create_post(app, admin, title="Privacy matters")
    other_id, _ = create_post(app, admin, title="Another post")
    ids = {
        "top": add_comment(app, post_id, "First, by Zoë.", author="Zoë", email="Zoe@Example.org"),
        "held": add_comment(
            app, post_id, "Held one.", CommentStatus.PENDING, author="Zoë", email="zoe@example.org"
        ),
        "other_post": add_comment(app, other_id, "Elsewhere.", author="Z", email="zoe@example.org"),
        "someone_else": add_comment(
            app, post_id, "Not Zoë.", author="Ben", email="ben@example.org"
        ),
    }
    ids["reply"] = add_comment(
        app, post_id, "Ben answers.", author="Ben", email="ben@example.org", parent_id=ids["top"]
    )
    with app.app_context():
        zoe = db.session.get(Comment, ids["top"])
        zoe.url = "https://zoe.example"
        zoe.user_agent = "Firefox"
        zoe.notify_on_approval = True
        db.session.add(
            OutboxMessage(recipients=["ZOE@example.org"], subject="Your comment is published")
        )
        db.session.add(OutboxMessage(recipients=["ben@example.org"], subject="For Ben"))
        db.session.commit()
    return {"post_id": post_id, "path": path, "ids": ids}


def test_export_holds_everything_about_the_email_and_nothing_else(app, runner, site):
    result = runner.invoke(args=["privacy", "export", "ZOE@example.org"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["email"] == "zoe@example.org"
    got = {c["id"]: c for c in data["comments"]}
    ids = site["ids"]
    assert set(got) == {ids["top"], ids["held"], ids["other_post"]}
    top = got[ids["top"]]
    assert top["status"] == "approved" and got[ids["held"]]["status"] == "pending"
    assert (top["author"], top["email"], top["url"], top["ip"], top["user_agent"]) == (
        "Zoë",
        "Zoe@Example.org",
        "https://zoe.example",
        "192.0.2.7",
        "Firefox",
    )
    assert top["notify_when_approved"] is True
    assert top["content"] == "First, by Zoë."
    assert top["post"]["url"] == "http://127.0.0.1:5000" + site["path"]
    assert top["created_at"].endswith("+00:00")
    assert [n["subject"] for n in data["notifications"]] == ["Your comment is published"]
    assert "ben@example.org" not in result.output and "Not Zoë" not in result.output


def test_export_to_a_file(app, runner, site, tmp_path):
    out = tmp_path / "zoe.json"
    result = runner.invoke(args=["privacy", "export", "zoe@example.org", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "3 comment(s) of zoe@example.org written to" in result.output
    assert len(json.loads(out.read_text(encoding="utf-8"))["comments"]) == 3


def test_erase_anonymises_logs_and_keeps_the_page_right(app, runner, site):
    reader = app.test_client()
    assert "Zoë" in reader.get(site["path"]).get_data(as_text=True)  # a page now cached
    result = runner.invoke(args=["privacy", "erase", "zoe@example.org"])
    assert result.exit_code == 0, result.output
    assert "zoe@example.org: 3 comment(s) anonymised, 1 notification(s) removed." in result.output
    ids = site["ids"]
    comments = {c.id: c for c in all_comments(app)}
    for key in ("top", "held", "other_post"):
        c = comments[ids[key]]
        assert (c.author, c.email, c.url, c.ip, c.user_agent) == ("Anonymous", "", "", "", "")
        assert c.notify_on_approval is False
    assert comments[ids["top"]].content == "First, by Zoë."  # the text stays
    assert comments[ids["someone_else"]].email == "ben@example.org"
    assert comments[ids["reply"]].parent_id == ids["top"]
    with app.app_context():
        logged = db.session.scalars(
            select(ModerationLog).where(ModerationLog.action == "anonymize")
        ).all()
        assert sorted(row.comment_id for row in logged) == sorted(
            ids[k] for k in ("top", "held", "other_post")
        )
        assert all("erased at the commenter's request" in row.reason for row in logged)
        assert db.session.get(Post, site["post_id"]).comment_count == 3
        recipients = [m.recipients for m in db.session.scalars(select(OutboxMessage))]
        assert recipients == [["ben@example.org"]]
    # The reader's page (cached before) shows the change at once; the fragment was redone.
    shown = page(reader.get(site["path"]))
    comment = by_id(shown, f"comment-{ids['top']}")
    assert text(next(with_class(comment, "comment-author"))) == "Anonymous"
    assert "First, by Zoë." in text(comment)
    assert "zoe.example" not in reader.get(site["path"]).get_data(as_text=True)
    again = runner.invoke(args=["privacy", "export", "zoe@example.org"])
    assert json.loads(again.output)["comments"] == []


def test_erase_with_delete_removes_and_keeps_counts_and_threads(app, runner, site):
    result = runner.invoke(args=["privacy", "erase", "zoe@example.org", "--delete"])
    assert result.exit_code == 0, result.output
    assert "3 comment(s) deleted" in result.output
    ids = site["ids"]
    left = {c.id: c for c in all_comments(app)}
    assert set(left) == {ids["someone_else"], ids["reply"]}
    assert left[ids["reply"]].parent_id is None  # moved up, as WordPress does
    with app.app_context():
        assert db.session.get(Post, site["post_id"]).comment_count == 2
        deletions = db.session.scalars(
            select(ModerationLog).where(ModerationLog.action == "delete")
        ).all()
        assert len(deletions) == 3


def test_an_account_with_the_email_is_named_not_erased(app, runner, site):
    create_user(app, "zoe", "subscriber", email="zoe@example.org")
    result = runner.invoke(args=["privacy", "erase", "zoe@example.org"])
    assert result.exit_code == 0
    assert "1 user account(s) use this email" in result.output


@pytest.mark.parametrize("email", ["", "not-an-email", "x" * 120 + "@example.org"])
def test_a_bad_email_is_refused(app, runner, site, email):
    for command in (["privacy", "export", email], ["privacy", "erase", email]):
        result = runner.invoke(args=command)
        assert result.exit_code != 0
        assert "email address" in result.output
    assert len(all_comments(app)) == 5


def test_purge_ips_forgets_old_addresses_only(app, runner, admin):
    post_id, _ = create_post(app, admin)
    old = add_comment(app, post_id, "Old.", created_at=utcnow() - timedelta(days=61))
    recent = add_comment(app, post_id, "Recent.", created_at=utcnow() - timedelta(days=59))
    with app.app_context():
        for comment in db.session.scalars(select(Comment)):
            comment.user_agent = "Browser"
        db.session.commit()
    result = runner.invoke(args=["privacy", "purge-ips"])
    assert result.exit_code == 0, result.output
    assert "of 1 comment(s) older than 60 days" in result.output
    comments = {c.id: c for c in all_comments(app)}
    assert (comments[old].ip, comments[old].user_agent) == ("", "")
    assert (comments[recent].ip, comments[recent].user_agent) == ("192.0.2.7", "Browser")
    assert "of 0 comment(s)" in runner.invoke(args=["privacy", "purge-ips"]).output


def test_purge_ips_keeps_them_when_retention_is_zero(app, runner, admin):
    post_id, _ = create_post(app, admin)
    old = add_comment(app, post_id, "Old.", created_at=utcnow() - timedelta(days=400))
    app.config["COMMENT_IP_RETENTION_DAYS"] = 0
    result = runner.invoke(args=["privacy", "purge-ips"])
    assert "addresses are kept" in result.output
    assert {c.id: c.ip for c in all_comments(app)}[old] == "192.0.2.7"


def test_admin_privacy_page_exports_and_erases(app, client, site):
    login(client, "admin")
    form = client.get("/admin/privacy")
    assert form.status_code == 200
    exported = client.post("/admin/privacy", data={"email": "zoe@example.org", "action": "export"})
    assert exported.status_code == 200
    assert exported.mimetype == "application/json"
    assert "attachment" in exported.headers["Content-Disposition"]
    assert len(exported.get_json()["comments"]) == 3
    # Erasing asks first, saying what will go; then does it.
    asked = client.post("/admin/privacy", data={"email": "zoe@example.org", "action": "erase"})
    assert asked.status_code == 200
    assert "3 comments" in asked.get_data(as_text=True)
    assert all_comments(app)[0].author == "Zoë"  # nothing done yet
    done = client.post(
        "/admin/privacy",
        data={"email": "zoe@example.org", "action": "erase", "confirm": "yes"},
    )
    assert done.status_code == 303
    followed = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "3 comment(s) anonymised" in followed
    assert {c.author for c in all_comments(app)} == {"Anonymous", "Ben"}


def test_privacy_page_is_for_admins_only(app, client, site):
    create_user(app, "mo", "moderator")
    login(client, "mo")
    assert client.get("/admin/privacy").status_code == 403
    assert (
        client.post(
            "/admin/privacy", data={"email": "zoe@example.org", "action": "export"}
        ).status_code
        == 403
    )
