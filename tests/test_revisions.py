"""Post revisions (who saved what, when; restorable) and the editor's autosave."""

from __future__ import annotations

import re

import pytest
from comment_helpers import page, text
from conftest import create_post, create_user, login
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from blog.extensions import db
from blog.models import Post, PostRevision, PostStatus
from blog.text import line_diff


def editor_data(**fields: str) -> dict[str, str]:
    data = {
        "title": "Draft title",
        "slug": "",
        "body": "First words.",
        "excerpt": "",
        "tags": "",
        "categories": "",
        "type": "post",
        "comments_open": "y",
        "published_at": "",
        "action": "update",
    }
    data.update(fields)
    return data


def save(client: FlaskClient, post_id: int, **fields: str):
    response = client.post(f"/admin/posts/{post_id}/edit", data=editor_data(**fields))
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return response


def rows(app: Flask, post_id: int, kind: str = "revision") -> list[PostRevision]:
    with app.app_context():
        found = list(
            db.session.scalars(
                select(PostRevision)
                .where(PostRevision.post_id == post_id, PostRevision.kind == kind)
                .order_by(PostRevision.id)
            )
        )
        for row in found:
            db.session.expunge(row)
        return found


def post_of(app: Flask, post_id: int) -> Post:
    with app.app_context():
        post = db.session.get(Post, post_id)
        db.session.expunge(post)
        return post


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("a\nb", "a\nb", []),
        ("a\nb\nc", "a\nB\nc", [("same", "a"), ("removed", "b"), ("added", "B"), ("same", "c")]),
        ("", "new", [("added", "new")]),
        (
            "\n".join("0123456789"),
            "\n".join("01234567X9"),
            [("gap", ""), ("same", "5"), ("same", "6"), ("same", "7"), ("removed", "8")]
            + [("added", "X"), ("same", "9")],
        ),
    ],
)
def test_line_diff(old: str, new: str, expected) -> None:
    assert line_diff(old, new) == expected


def test_each_save_that_changes_the_post_is_a_revision(
    app: Flask, admin: str, admin_client: FlaskClient
) -> None:
    post_id, _ = create_post(app, admin, "Draft title", "First words.", action="draft")
    assert [(r.title, r.body) for r in rows(app, post_id)] == [("Draft title", "First words.")]
    save(admin_client, post_id, body="Second words.")
    save(admin_client, post_id, body="Second words.")  # nothing changed: no revision
    save(admin_client, post_id, body="Second words.", excerpt="A short summary.")
    kept = rows(app, post_id)
    assert [(r.body, r.excerpt) for r in kept] == [
        ("First words.", ""),
        ("Second words.", ""),
        ("Second words.", "A short summary."),
    ]
    # Listed newest first, with who and when; the newest is the post as it stands.
    root = page(admin_client.get(f"/admin/posts/{post_id}/revisions"))
    listed = [text(tr) for tr in root.find(".//tbody").findall("tr")]
    assert len(listed) == 3 and "current" in listed[0] and "admin" in listed[0]
    editor = text(page(admin_client.get(f"/admin/posts/{post_id}/edit")))
    assert "Revisions (3)" in editor


def test_a_post_from_before_revisions_keeps_its_state_at_the_first_edit(
    app: Flask, admin: str, admin_client: FlaskClient
) -> None:
    post_id, _ = create_post(app, admin, "Old post", "As it was.", excerpt="Typed excerpt.")
    with app.app_context():
        db.session.execute(PostRevision.__table__.delete())
        db.session.commit()
    save(admin_client, post_id, title="Old post", body="As it is now.")
    kept = rows(app, post_id)
    assert [(r.body, r.excerpt) for r in kept] == [
        ("As it was.", "Typed excerpt."),
        ("As it is now.", ""),
    ]


def test_a_revision_shows_its_changes_and_restores(
    app: Flask, admin: str, admin_client: FlaskClient
) -> None:
    post_id, path = create_post(app, admin, "Title one", "Line one.\nLine two.", tags=["kept"])
    save(admin_client, post_id, title="Title two", body="Line one.\nLine 2.", tags="kept")
    first = rows(app, post_id)[0]
    response = admin_client.get(f"/admin/posts/{post_id}/revisions/{first.id}")
    root = page(response)
    diffs = {
        text(section.find("h2")): [(li.get("class"), text(li)) for li in section.iter("li")]
        for section in root.iter("section")
        if "revision-diff" in (section.get("class") or "")
    }
    assert diffs["Title"] == [
        ("diff-removed", "Removed: Title two"),
        ("diff-added", "Added: Title one"),
    ]
    assert ("diff-added", "Added: Line two.") in diffs["Body"]
    assert "Excerpt" not in diffs
    restored = admin_client.post(f"/admin/posts/{post_id}/revisions/{first.id}")
    assert restored.headers["Location"] == f"/admin/posts/{post_id}/edit"
    post = post_of(app, post_id)
    assert (post.title, post.body) == ("Title one", "Line one.\nLine two.")
    assert post.status == PostStatus.PUBLISHED  # restoring the words changes nothing else
    editor = text(page(admin_client.get(f"/admin/posts/{post_id}/edit")))
    assert "Restored the revision of" in editor
    assert "Line two." in admin_client.get(path).get_data(as_text=True)
    # The version it replaced is a revision too: the restore can be undone the same way.
    assert [r.title for r in rows(app, post_id)] == ["Title one", "Title two", "Title one"]


def test_revisions_are_limited_per_post(app: Flask, admin: str, admin_client) -> None:
    app.config["POST_REVISIONS_KEPT"] = 3
    post_id, _ = create_post(app, admin, "Counted", "v0", action="draft")
    for n in range(1, 6):
        save(admin_client, post_id, title="Counted", body=f"v{n}", action="draft")
    assert [r.body for r in rows(app, post_id)] == ["v3", "v4", "v5"]


def test_autosave_keeps_unsaved_work_and_offers_it_back(
    app: Flask, admin: str, admin_client: FlaskClient
) -> None:
    post_id, path = create_post(app, admin, "Live post", "Published words.")
    response = admin_client.post(
        f"/admin/posts/{post_id}/autosave",
        data={"title": "Live post", "body": "Half-typed new words", "excerpt": ""},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200
    assert re.fullmatch(r"Autosaved at \d\d:\d\d:\d\d\.", response.get_json()["message"])
    # Nothing public changed.
    assert post_of(app, post_id).body == "Published words."
    assert "Half-typed" not in admin_client.get(path).get_data(as_text=True)
    # The editor offers it back; restoring fills the form and saves nothing.
    editor = page(admin_client.get(f"/admin/posts/{post_id}/edit"))
    notice = text(
        next(d for d in editor.iter("div") if "autosave-notice" in (d.get("class") or ""))
    )
    assert "You have changes to this post that were not saved" in notice
    filled = page(admin_client.get(f"/admin/posts/{post_id}/edit?restore=autosave"))
    assert text(filled.find(".//textarea[@name='body']")) == "Half-typed new words"
    assert post_of(app, post_id).body == "Published words."
    # Saving keeps it and drops the autosave; the offer is gone.
    save(admin_client, post_id, title="Live post", body="Half-typed new words")
    assert rows(app, post_id, "autosave") == []
    assert "not saved" not in text(page(admin_client.get(f"/admin/posts/{post_id}/edit")))


def test_an_autosave_is_per_person_and_can_be_discarded(app: Flask, admin: str) -> None:
    create_user(app, "ed", "editor")
    post_id, _ = create_post(app, admin, "Shared", "Words.")
    ed = app.test_client()
    login(ed, "ed")
    ed.post(
        f"/admin/posts/{post_id}/autosave", data={"title": "Shared", "body": "Ed's", "excerpt": ""}
    )
    admin_client = app.test_client()
    login(admin_client, admin)
    assert "not saved" not in text(page(admin_client.get(f"/admin/posts/{post_id}/edit")))
    assert "not saved" in text(page(ed.get(f"/admin/posts/{post_id}/edit")))
    response = ed.post(f"/admin/posts/{post_id}/autosave/discard")
    assert response.headers["Location"] == f"/admin/posts/{post_id}/edit"
    assert rows(app, post_id, "autosave") == []


def test_autosave_of_a_new_post_makes_a_draft(app: Flask, admin_client: FlaskClient) -> None:
    response = admin_client.post(
        "/admin/posts/autosave",
        data=editor_data(title="Fresh idea", body="Typed so far", action="draft"),
        headers={"Accept": "application/json"},
    )
    payload = response.get_json()
    post = post_of(app, payload["post_id"])
    assert (post.title, post.body, post.status) == ("Fresh idea", "Typed so far", PostStatus.DRAFT)
    assert payload["edit_url"] == f"/admin/posts/{post.id}/edit"
    assert payload["autosave_url"] == f"/admin/posts/{post.id}/autosave"
    untitled = admin_client.post("/admin/posts/autosave", data=editor_data(title=""))
    assert untitled.status_code == 400
    assert untitled.get_json()["error"]["message"] == "Give the post a title."


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"body": "x" * 1_000_001}, "The body is 1,000,001 characters; the limit is 1,000,000."),
        ({"title": "t" * 301}, "The title is 301 characters; the limit is 300."),
        ({"body": "nul\x00"}, "Body contains"),
    ],
)
def test_autosave_refuses_what_a_save_would(
    app: Flask, admin: str, admin_client, fields, message
) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 8 * 1024 * 1024
    post_id, _ = create_post(app, admin, "Limits", "Words.")
    data = {"title": "Limits", "body": "", "excerpt": "", **fields}
    response = admin_client.post(f"/admin/posts/{post_id}/autosave", data=data)
    assert response.status_code == 400
    assert response.get_json()["error"]["message"].startswith(message)
    assert rows(app, post_id, "autosave") == []


def test_only_who_may_edit_the_post_sees_or_touches_its_revisions(app: Flask, admin: str) -> None:
    create_user(app, "otto", "author")
    post_id, _ = create_post(app, admin, "Admin's", "Words.")
    first = rows(app, post_id)[0]
    otto = app.test_client()
    login(otto, "otto")
    for method, url in [
        ("get", f"/admin/posts/{post_id}/revisions"),
        ("get", f"/admin/posts/{post_id}/revisions/{first.id}"),
        ("post", f"/admin/posts/{post_id}/revisions/{first.id}"),
        ("post", f"/admin/posts/{post_id}/autosave"),
        ("post", f"/admin/posts/{post_id}/autosave/discard"),
    ]:
        assert getattr(otto, method)(url).status_code == 403, url
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PostRevision)) == 1
    # Another post's revision is not this post's.
    other_id, _ = create_post(app, admin, "Other", "More.")
    admin_client = app.test_client()
    login(admin_client, admin)
    assert admin_client.get(f"/admin/posts/{other_id}/revisions/{first.id}").status_code == 404
