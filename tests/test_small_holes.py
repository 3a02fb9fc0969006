"""The smaller holes an attack on the running blog found (issue 8), each closed for good."""

from __future__ import annotations

import pytest
from comment_helpers import add_comment, by_id, page
from conftest import create_post, create_user, login
from flask import Flask

from blog.extensions import db
from blog.models import Category, Post
from blog.services import ServiceError
from blog.services import posts as post_service
from blog.services import settings as settings_service
from blog.services.users import find_user


def test_an_old_slug_of_a_draft_leads_readers_nowhere(app: Flask, admin_client, admin) -> None:
    post_id, _ = create_post(app, admin, title="Secret", action="draft", slug="old-slug")
    with app.app_context():
        post = db.session.get(Post, post_id)
        data = post_service.PostInput(title="Secret", slug="new-secret-slug")
        post_service.update_post(post, find_user(admin), data, "draft")
    reader = app.test_client().get("/old-slug/")
    assert reader.status_code == 404 and "new-secret-slug" not in reader.get_data(as_text=True)
    # Whoever may edit it is still sent on.
    assert admin_client.get("/old-slug/").headers["Location"].endswith("/new-secret-slug/")


@pytest.mark.parametrize("names", [["Bar", "bar"], ["Foo/Foo"], ["A/B", "a/b", "B"]])
def test_a_category_named_twice_is_one_category(app: Flask, admin: str, names) -> None:
    with app.app_context():
        post = post_service.create_post(
            find_user(admin), post_service.PostInput(title="Twice", categories=names), "publish"
        )
        slugs = sorted(c.slug for c in db.session.scalars(db.select(Category)))
        assert len(slugs) == len(set(slugs))
        assert len(post.categories) == len({c.slug for c in post.categories})


def test_the_edit_page_cancels_only_to_the_queue(app: Flask, admin_client, admin) -> None:
    post_id, _ = create_post(app, admin, title="Edit me")
    comment_id = add_comment(app, post_id, "Edit me.")
    for evil in ("https://evil.test/", "//evil.test/", "/\t/evil.test", "javascript:alert(1)"):
        response = admin_client.get(
            f"/admin/comments/{comment_id}/edit", query_string={"next": evil}
        )
        body = response.get_data(as_text=True)
        assert "evil.test" not in body and "javascript:" not in body
    kept = admin_client.get(
        f"/admin/comments/{comment_id}/edit", query_string={"next": "/admin/comments?status=spam"}
    )
    assert 'href="/admin/comments?status=spam"' in kept.get_data(as_text=True)


@pytest.mark.parametrize("value", ["A\x00B", "A\x01B", "A\x1bB", "A\ufffeB"])
def test_settings_refuse_what_the_comment_form_refuses(app: Flask, admin_client, value) -> None:
    response = admin_client.post(
        "/admin/settings",
        data={"site_name": value, "site_description": "", "timezone": "UTC", "posts_per_page": 10},
    )
    assert response.status_code == 400
    with app.app_context():
        with pytest.raises(ServiceError) as refused:
            settings_service.save({"moderation_keys": value})
        assert refused.value.field == "moderation_keys"
        assert settings_service.site_settings().name == "My Blog"


def test_a_site_name_over_its_limit_is_refused(app: Flask) -> None:
    with app.app_context(), pytest.raises(ServiceError, match="the limit is 200"):
        settings_service.save_site("x" * 201, "", "UTC", 10)


def test_the_discussion_form_without_its_fields_is_a_400(admin_client) -> None:
    assert admin_client.post("/admin/settings/discussion", data={}).status_code == 400


def test_pages_made_for_a_logged_in_user_are_never_stored(app: Flask, client, admin) -> None:
    _, path = create_post(app, admin, title="Draft preview", action="draft")
    login(client, admin)
    for url in (path, "/search/?q=x", "/"):
        assert client.get(url).headers["Cache-Control"] == "private, no-store", url


def test_archives_with_nothing_public_are_404(app: Flask, admin: str) -> None:
    create_user(app, "subscriber1", "subscriber")
    create_post(
        app, admin, title="Hidden", tags=["secret-tag"], categories=["Quiet"], action="draft"
    )
    reader = app.test_client()
    for url in ("/author/subscriber1/", "/tag/secret-tag/", "/category/quiet/"):
        assert reader.get(url).status_code == 404, url
    create_post(app, admin, title="Out", tags=["secret-tag"], categories=["Quiet"])
    for url in ("/author/admin/", "/tag/secret-tag/", "/category/quiet/"):
        assert reader.get(url).status_code == 200, url
    assert reader.get("/search/?q=nothing-matches").status_code == 200
    root = page(reader.get("/search/?q=nothing-matches"))
    assert by_id(root, "main") is not None
