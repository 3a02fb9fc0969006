"""The admin side of posts: who may do what, the editor form and its buttons."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import create_post, create_user, login
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from blog.extensions import db
from blog.models import Post, PostStatus, PostType

ROLES = ["admin", "editor", "author", "moderator", "subscriber"]
WRITERS = {"admin", "editor", "author"}


@pytest.fixture
def as_role(app: Flask, client: FlaskClient):
    """Log ``client`` in with a new user of that role; None stays anonymous."""

    def log_in(role: str | None) -> FlaskClient:
        if role is not None:
            create_user(app, role, role)
            assert login(client, role).status_code == 302
        return client

    return log_in


def _post(app: Flask, post_id: int) -> Post:
    with app.app_context():
        post = db.session.get(Post, post_id)
        assert post is not None
        db.session.expunge(post)
        return post


def _count_posts(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Post)) or 0


def _editor_data(**fields: str) -> dict[str, str]:
    data = {
        "title": "A post from the editor",
        "slug": "",
        "body": "Some *text*.",
        "excerpt": "",
        "tags": "",
        "categories": "",
        "type": "post",
        "comments_open": "y",
        "published_at": "",
        "action": "draft",
    }
    data.update(fields)
    return data


def _new_post(client: FlaskClient, **fields: str):
    return client.post("/admin/posts/new", data=_editor_data(**fields))


def _created_id(response) -> int:
    assert response.status_code == 303, response.get_data(as_text=True)
    match = re.fullmatch(r"/admin/posts/(\d+)/edit", response.location)
    assert match, response.location
    return int(match.group(1))


# --- the permission matrix -----------------------------------------------------------------


def _expect(role: str | None, allowed: bool) -> int:
    if role is None:
        return 302  # to the login page
    return 200 if allowed else 403


@pytest.mark.parametrize("role", [*ROLES, None])
@pytest.mark.parametrize(
    ("path", "allowed_roles"),
    [
        ("/admin/", set(ROLES)),
        ("/admin/posts", WRITERS),
        ("/admin/posts?status=draft", WRITERS),
        ("/admin/posts/new", WRITERS),
        ("/admin/settings", {"admin"}),
        ("/admin/settings/discussion", {"admin"}),
        ("/admin/comments", {"admin", "editor", "author", "moderator"}),
    ],
)
def test_admin_page_access(as_role, path: str, allowed_roles: set[str], role: str | None) -> None:
    client = as_role(role)
    response = client.get(path)
    assert response.status_code == _expect(role, role in allowed_roles)
    if role is None:
        assert response.location.startswith("/login?next=")


@pytest.mark.parametrize(
    ("role", "own", "others"),
    [
        ("admin", 200, 200),
        ("editor", 200, 200),
        ("author", 200, 403),
        ("moderator", None, 403),
        ("subscriber", None, 403),
        (None, None, 302),
    ],
)
def test_editing_own_and_others_posts(
    app: Flask, as_role, role: str | None, own: int | None, others: int
) -> None:
    create_user(app, "owner", "author")
    others_id, _ = create_post(app, "owner", "Someone else's post")
    client = as_role(role)
    assert client.get(f"/admin/posts/{others_id}/edit").status_code == others
    changed = client.post(
        f"/admin/posts/{others_id}/edit", data=_editor_data(title="Taken over", action="update")
    )
    assert changed.status_code == (303 if others == 200 else others)
    expected_title = "Taken over" if others == 200 else "Someone else's post"
    assert _post(app, others_id).title == expected_title
    for action in ("unpublish", "trash"):
        response = client.post(f"/admin/posts/{others_id}/{action}")
        assert response.status_code == (303 if others == 200 else others)
    if own is not None:
        own_id, _ = create_post(app, role, "My own post")  # type: ignore[arg-type]
        assert client.get(f"/admin/posts/{own_id}/edit").status_code == own


@pytest.mark.parametrize(
    ("role", "draft", "publish"),
    [
        ("admin", 303, 303),
        ("editor", 303, 303),
        ("author", 303, 303),
        ("moderator", 403, 403),
        ("subscriber", 403, 403),
        (None, 302, 302),
    ],
)
def test_who_may_write_and_publish(
    app: Flask, as_role, role: str | None, draft: int, publish: int
) -> None:
    client = as_role(role)
    assert _new_post(client, title="Draft", action="draft").status_code == draft
    published = _new_post(client, title="Published", action="publish")
    assert published.status_code == publish
    with app.app_context():
        statuses = dict(db.session.execute(select(Post.title, Post.status)).all())
    if publish == 303:
        assert statuses == {"Draft": PostStatus.DRAFT, "Published": PostStatus.PUBLISHED}
    else:
        assert statuses == {}


def test_posts_list_shows_authors_only_their_own(app: Flask, as_role) -> None:
    create_user(app, "other", "author")
    create_post(app, "other", "Not mine")
    client = as_role("author")
    create_post(app, "author", "Mine")
    body = client.get("/admin/posts").get_data(as_text=True)
    assert "Mine" in body
    assert "Not mine" not in body


def test_posts_list_shows_editors_everything(app: Flask, as_role) -> None:
    create_user(app, "other", "author")
    create_post(app, "other", "Theirs", action="draft")
    client = as_role("editor")
    body = client.get("/admin/posts").get_data(as_text=True)
    assert "Theirs" in body


@pytest.mark.parametrize("query", ["status=bogus", "type=bogus"])
def test_posts_list_rejects_unknown_filters(admin_client: FlaskClient, query: str) -> None:
    assert admin_client.get(f"/admin/posts?{query}").status_code == 404


# --- the editor ----------------------------------------------------------------------------


def test_save_draft(app: Flask, admin_client: FlaskClient) -> None:
    post_id = _created_id(_new_post(admin_client, title="Work in progress", action="draft"))
    post = _post(app, post_id)
    assert post.status == PostStatus.DRAFT
    assert post.published_at is None
    page = admin_client.get(f"/admin/posts/{post_id}/edit").get_data(as_text=True)
    assert "Draft saved." in page
    assert 'value="Work in progress"' in page


def test_publish_renders_markdown_on_save(app: Flask, admin_client: FlaskClient) -> None:
    body = (
        "Intro with a note[^1].\n\n"
        "```python\nprint('hi')\n```\n\n"
        "| a | b |\n|---|--:|\n| 1 | 2 |\n\n"
        "[^1]: The note.\n"
    )
    post_id = _created_id(_new_post(admin_client, title="Rich", body=body, action="publish"))
    post = _post(app, post_id)
    assert post.status == PostStatus.PUBLISHED
    assert post.published_at is not None
    assert post.body == body  # the Markdown as typed is kept for the next edit
    assert '<code class="language-python">' in post.body_html
    assert "<table>" in post.body_html
    assert '<td class="align-right">2</td>' in post.body_html
    assert 'class="footnote"' in post.body_html
    assert 'href="#fn:1"' in post.body_html
    assert post.excerpt.startswith("Intro with a note")


def test_preview_re_renders_what_was_typed_and_saves_nothing(
    app: Flask, admin_client: FlaskClient
) -> None:
    response = _new_post(
        admin_client, title="Only a preview", body="# Heading\n\n**bold**", action="preview"
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<h1>Heading</h1>" in page
    assert "<strong>bold</strong>" in page
    assert 'value="Only a preview"' in page
    assert "# Heading" in page  # the textarea keeps the Markdown
    assert _count_posts(app) == 0


def test_preview_of_an_existing_post_changes_nothing(app: Flask, admin_client: FlaskClient) -> None:
    post_id, path = create_post(app, "admin", "Stable title", "Stable body")
    response = admin_client.post(
        f"/admin/posts/{post_id}/edit",
        data=_editor_data(title="New title", body="New *body*", action="preview"),
    )
    assert response.status_code == 200
    assert "New <em>body</em>" in response.get_data(as_text=True)
    post = _post(app, post_id)
    assert (post.title, post.body) == ("Stable title", "Stable body")


def test_live_preview_endpoint(admin_client: FlaskClient) -> None:
    response = admin_client.post("/admin/preview", data={"body": "*hi* <script>x</script>"})
    assert response.status_code == 200
    assert response.get_data(as_text=True).strip() == "<p><em>hi</em> </p>"


def _local_input(when: datetime) -> str:
    """The datetime-local value the form takes, in the site's zone (UTC by default)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def test_schedule_then_appear_on_time(app: Flask, admin_client: FlaskClient) -> None:
    when = datetime.now(UTC) + timedelta(days=2)
    response = _new_post(
        admin_client, title="Later", action="schedule", published_at=_local_input(when)
    )
    post_id = _created_id(response)
    post = _post(app, post_id)
    assert post.status == PostStatus.SCHEDULED
    assert post.published_at is not None
    assert abs(post.published_at - when) < timedelta(minutes=1)
    reader = app.test_client()
    path = re.search(r'href="(/\d{4}/\d{2}/later/)"', _edit_page(admin_client, post_id))
    assert path is not None
    assert reader.get(path.group(1)).status_code == 404
    assert "Later" not in reader.get("/").get_data(as_text=True)

    # Time passes: the post is due, and shows without anyone pressing a button.
    with app.app_context():
        stored = db.session.get(Post, post_id)
        assert stored is not None
        stored.published_at = datetime.now(UTC) - timedelta(minutes=1)
        db.session.commit()
        from blog.templating import post_path

        with app.test_request_context():
            due_path = post_path(stored)
    assert reader.get(due_path).status_code == 200
    assert "Later" in reader.get("/").get_data(as_text=True)


def _edit_page(client: FlaskClient, post_id: int) -> str:
    return client.get(f"/admin/posts/{post_id}/edit").get_data(as_text=True)


@pytest.mark.parametrize("when", ["", "2001-01-01T10:00"])
def test_schedule_needs_a_future_time(app: Flask, admin_client: FlaskClient, when: str) -> None:
    response = _new_post(admin_client, title="Keep me", action="schedule", published_at=when)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Pick a publish time in the future" in page
    assert 'value="Keep me"' in page
    assert _count_posts(app) == 0


def test_publish_with_a_past_time_backdates(app: Flask, admin_client: FlaskClient) -> None:
    post_id = _created_id(
        _new_post(admin_client, title="Old news", action="publish", published_at="2020-05-17T08:30")
    )
    post = _post(app, post_id)
    assert post.status == PostStatus.PUBLISHED
    assert post.published_at == datetime(2020, 5, 17, 8, 30, tzinfo=UTC)
    assert app.test_client().get("/2020/05/old-news/").status_code == 200


def test_publish_with_a_future_time_schedules(app: Flask, admin_client: FlaskClient) -> None:
    """As WordPress: the Publish button with a time ahead schedules the post."""
    post_id = _created_id(
        _new_post(admin_client, title="Tomorrow", action="publish", published_at="2999-01-02T03:04")
    )
    post = _post(app, post_id)
    assert post.status == PostStatus.SCHEDULED
    assert post.published_at == datetime(2999, 1, 2, 3, 4, tzinfo=UTC)
    assert app.test_client().get("/2999/01/tomorrow/").status_code == 404


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"title": ""}, "Give the post a title."),
        ({"title": "x" * 301}, "Field cannot be longer than 300 characters."),
        ({"slug": "!!!"}, "The slug needs at least one letter or digit."),
        ({"published_at": "not a date"}, "Not a valid datetime value."),
        ({"action": "explode"}, "Unknown action"),
        # PostgreSQL refuses NUL in text: the service must refuse it first, with a message.
        ({"title": "Nul\x00title"}, "Title contains a NUL character"),
        ({"tags": "ok, bad\x01tag"}, "Tags contains a control character (U+0001)"),
    ],
)
def test_editor_errors_keep_what_was_typed(
    app: Flask, admin_client: FlaskClient, fields: dict[str, str], message: str
) -> None:
    data = {"body": "My precious *draft* text", **fields}
    response = _new_post(admin_client, **data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert "My precious *draft* text" in page
    assert _count_posts(app) == 0


def test_update_keeps_a_published_post_published(app: Flask, admin_client: FlaskClient) -> None:
    post_id, path = create_post(app, "admin", "First title")
    response = admin_client.post(
        f"/admin/posts/{post_id}/edit",
        data=_editor_data(title="Second title", slug="first-title", action="update"),
    )
    assert response.status_code == 303
    post = _post(app, post_id)
    assert post.status == PostStatus.PUBLISHED
    assert post.title == "Second title"
    assert "Second title" in app.test_client().get(path).get_data(as_text=True)


def test_edit_form_is_filled_in(app: Flask, admin_client: FlaskClient) -> None:
    post_id, _ = create_post(
        app,
        "admin",
        "Filled",
        "Body *here*",
        tags=["Flask", "Python"],
        categories=["Code/Web"],
    )
    page = _edit_page(admin_client, post_id)
    assert 'value="Filled"' in page
    assert "Body *here*" in page
    assert 'value="Flask, Python"' in page
    assert 'value="Code/Web"' in page
    assert 'value="filled"' in page  # the slug


def test_tags_and_categories_from_the_form(app: Flask, admin_client: FlaskClient) -> None:
    post_id = _created_id(
        _new_post(
            admin_client,
            title="Sorted",
            tags="Flask, python , Flask,,",
            categories="Code/Web, News",
            action="publish",
        )
    )
    with app.app_context():
        post = db.session.get(Post, post_id)
        assert post is not None
        assert [t.name for t in post.tags] == ["Flask", "python"]
        assert sorted((c.name, c.parent.name if c.parent else None) for c in post.categories) == [
            ("News", None),
            ("Web", "Code"),
        ]


@pytest.mark.parametrize("post_id", ["999999", "99999999999999999999"])
def test_missing_post_is_404(admin_client: FlaskClient, post_id: str) -> None:
    assert admin_client.get(f"/admin/posts/{post_id}/edit").status_code == 404
    assert admin_client.post(f"/admin/posts/{post_id}/trash").status_code == 404


@pytest.mark.parametrize("page", ["0", "-3", "99999999999999999999", "many"])
def test_posts_list_survives_odd_page_numbers(admin_client: FlaskClient, page: str) -> None:
    assert admin_client.get(f"/admin/posts?page={page}").status_code == 200


# --- the publishing buttons ----------------------------------------------------------------


def _button(client: FlaskClient, post_id: int, action: str, **data: str):
    return client.post(f"/admin/posts/{post_id}/{action}", data=data)


def test_unpublish_trash_restore(app: Flask, admin_client: FlaskClient) -> None:
    post_id, path = create_post(app, "admin", "Round trip")
    reader = app.test_client()
    assert reader.get(path).status_code == 200

    response = _button(admin_client, post_id, "unpublish")
    assert response.status_code == 303
    assert response.location == "/admin/posts"
    assert _post(app, post_id).status == PostStatus.DRAFT
    assert reader.get(path).status_code == 404

    # Published again, then trashed: gone for readers, and restored as it was.
    admin_client.post(
        f"/admin/posts/{post_id}/edit",
        data=_editor_data(title="Round trip", slug="round-trip", action="publish"),
    )
    assert reader.get(path).status_code == 200
    assert _button(admin_client, post_id, "trash").status_code == 303
    trashed = _post(app, post_id)
    assert trashed.status == PostStatus.TRASH
    assert trashed.status_before_trash == PostStatus.PUBLISHED
    assert reader.get(path).status_code == 404
    assert "Round trip" not in admin_client.get("/admin/posts").get_data(as_text=True)
    assert "Round trip" in admin_client.get("/admin/posts?status=trash").get_data(as_text=True)

    assert _button(admin_client, post_id, "restore").status_code == 303
    assert _post(app, post_id).status == PostStatus.PUBLISHED
    assert reader.get(path).status_code == 200


def test_restored_draft_stays_a_draft(app: Flask, admin_client: FlaskClient) -> None:
    post_id, _ = create_post(app, "admin", "Draft", action="draft")
    _button(admin_client, post_id, "trash")
    _button(admin_client, post_id, "restore")
    assert _post(app, post_id).status == PostStatus.DRAFT


@pytest.mark.parametrize(
    ("next_value", "location"),
    [
        ("/admin/posts?status=trash", "/admin/posts?status=trash"),
        ("https://evil.example/", "/admin/posts"),
        ("//evil.example/", "/admin/posts"),
        ("/\\evil.example", "/admin/posts"),
        ("/admin/posts\r\nX-Injected: 1", "/admin/posts"),
    ],
)
def test_buttons_go_back_only_to_local_pages(
    app: Flask, admin_client: FlaskClient, next_value: str, location: str
) -> None:
    post_id, _ = create_post(app, "admin", "Going back")
    response = _button(admin_client, post_id, "trash", next=next_value)
    assert response.location == location


@pytest.mark.parametrize("action", ["unpublish", "trash", "restore"])
def test_buttons_are_post_only(app: Flask, admin_client: FlaskClient, action: str) -> None:
    post_id, _ = create_post(app, "admin", "Stays")
    assert admin_client.get(f"/admin/posts/{post_id}/{action}").status_code == 405
    assert _post(app, post_id).status == PostStatus.PUBLISHED


def test_buttons_are_forms_on_the_pages(app: Flask, admin_client: FlaskClient) -> None:
    post_id, _ = create_post(app, "admin", "Buttons")
    for page in (
        admin_client.get("/admin/posts"),
        admin_client.get(f"/admin/posts/{post_id}/edit"),
    ):
        body = page.get_data(as_text=True)
        for action in ("unpublish", "trash"):
            assert re.search(
                rf'<form[^>]*method="post"[^>]*action="/admin/posts/{post_id}/{action}"', body
            )


def test_buttons_and_editor_need_the_csrf_token(csrf_app: Flask) -> None:
    create_user(csrf_app, "admin", "admin")
    post_id, _ = create_post(csrf_app, "admin", "Protected")
    client = csrf_app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token
    client.post(
        "/login",
        data={"username": "admin", "password": "correct horse battery", "csrf_token": token[1]},
    )
    assert client.post(f"/admin/posts/{post_id}/trash").status_code == 400
    assert _post(csrf_app, post_id).status == PostStatus.PUBLISHED
    refused = client.post("/admin/posts/new", data=_editor_data(title="Forged"))
    assert refused.status_code == 400
    assert _count_posts(csrf_app) == 1

    edit_page = client.get(f"/admin/posts/{post_id}/edit").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', edit_page)
    assert token
    response = client.post(f"/admin/posts/{post_id}/trash", data={"csrf_token": token[1]})
    assert response.status_code == 303
    assert _post(csrf_app, post_id).status == PostStatus.TRASH


def test_posts_list_pager_keeps_the_filters(app: Flask, admin_client: FlaskClient) -> None:
    for n in range(21):
        create_post(app, "admin", f"Page {n}", type=PostType.PAGE)
    body = admin_client.get("/admin/posts?type=page&status=published").get_data(as_text=True)
    href = re.search(r'href="(/admin/posts\?[^"]*page=2[^"]*)"', body).group(1)
    query = parse_qs(urlsplit(html.unescape(href)).query)
    assert query == {"status": ["published"], "type": ["page"], "page": ["2"]}


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("author", "<strong>1</strong> comment awaiting"),
        ("moderator", "<strong>2</strong> comments awaiting"),
    ],
)
def test_dashboard_counts_the_comments_the_user_moderates(
    app: Flask, client: FlaskClient, role: str, expected: str
) -> None:
    """Authors moderate their own posts' comments, so their dashboard counts only those."""
    create_user(app, "writer", "author")
    create_user(app, "other", "author")
    if role != "author":
        create_user(app, "mod", role)
    _, own = create_post(app, "writer", "Mine")
    _, theirs = create_post(app, "other", "Theirs")
    reader = app.test_client()
    for path in (own, theirs):
        reader.post(
            path,
            data={
                "author": "Ann",
                "email": f"ann{len(path)}@example.com",
                "comment": f"Held on {path}",
            },
        )
    login(client, "writer" if role == "author" else "mod")
    assert expected in client.get("/admin/").get_data(as_text=True)


def test_automatic_excerpt_follows_the_body_and_a_typed_one_stays(
    app: Flask, admin_client: FlaskClient
) -> None:
    post_id, _ = create_post(app, "admin", "Auto", "First version of the body.")
    edit = _edit_page(admin_client, post_id)
    assert re.search(r'<textarea[^>]*name="excerpt"[^>]*>\s*</textarea>', edit)
    form = {"title": "Auto", "body": "Second version.", "action": "update", "comments_open": "y"}
    admin_client.post(f"/admin/posts/{post_id}/edit", data=form)
    with app.app_context():
        assert db.session.get(Post, post_id).excerpt == "Second version."
    admin_client.post(f"/admin/posts/{post_id}/edit", data={**form, "excerpt": "My own words."})
    assert "My own words." in _edit_page(admin_client, post_id)
    admin_client.post(
        f"/admin/posts/{post_id}/edit",
        data={**form, "excerpt": "My own words.", "body": "Third version."},
    )
    with app.app_context():
        assert db.session.get(Post, post_id).excerpt == "My own words."


def test_a_scheduled_post_that_went_live_counts_as_published(
    app: Flask, admin_client: FlaskClient
) -> None:
    """One definition for the dashboard, the tabs' counts, the tabs' lists and the badges:
    a scheduled post whose time has come is published."""
    due_id, _ = create_post(app, "admin", title="Went live", action="draft")
    create_post(app, "admin", title="Still ahead", action="draft")
    create_post(app, "admin", title="Plainly out")
    with app.app_context():
        for title, when in (("Went live", -1), ("Still ahead", +1)):
            post = db.session.scalar(select(Post).where(Post.title == title))
            post.status = PostStatus.SCHEDULED
            post.published_at = datetime.now(UTC) + timedelta(hours=when)
        db.session.commit()
    dashboard = admin_client.get("/admin/").get_data(as_text=True)
    assert re.search(r"<strong>2</strong> published", dashboard)
    assert re.search(r"<strong>1</strong> scheduled", dashboard)
    listing = admin_client.get("/admin/posts").get_data(as_text=True)
    assert "Published (2)" in listing and "Scheduled (1)" in listing
    published = admin_client.get("/admin/posts?status=published").get_data(as_text=True)
    assert "Went live" in published and "Plainly out" in published
    assert "Still ahead" not in published
    scheduled = admin_client.get("/admin/posts?status=scheduled").get_data(as_text=True)
    assert "Still ahead" in scheduled and "Went live" not in scheduled
    assert _post(app, due_id).status == PostStatus.SCHEDULED  # stored as it was


def test_editing_a_post_shows_its_preview_at_once(app: Flask, admin_client: FlaskClient) -> None:
    post_id, _ = create_post(app, "admin", title="Shown", body="Some **bold** words.")
    page = admin_client.get(f"/admin/posts/{post_id}/edit").get_data(as_text=True)
    preview = page.split('id="preview">', 1)[1].split("</div>", 1)[0]
    assert "<strong>bold</strong>" in preview
    new = admin_client.get("/admin/posts/new").get_data(as_text=True)
    assert "Press “Preview”" in new.split('id="preview">', 1)[1]
