"""The admin's posts list: search, filters by author, tag and category, bulk actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from comment_helpers import page, text
from conftest import create_post, create_user, login
from flask import Flask
from flask.testing import FlaskClient

from blog.extensions import db
from blog.models import Category, Post, PostStatus


@pytest.fixture
def shelf(app: Flask, admin: str) -> dict[str, int]:
    """Posts by two authors, with tags and nested categories."""
    create_user(app, "otto", "author")
    create_user(app, "ed", "editor")
    made = {
        "bread": create_post(
            app, admin, "Sourdough bread", "Flour and water.", tags=["baking"], categories=["Food"]
        ),
        "beans": create_post(
            app, "otto", "Runner beans", "Sow in May.", tags=["garden"], categories=["Garden"]
        ),
        "rye": create_post(
            app, "otto", "Rye notes", "100% rye, 50_50 hydration.", action="draft", tags=["baking"]
        ),
        "soup": create_post(app, admin, "Winter soup", "Leeks.", categories=["Soups"]),
    }
    with app.app_context():
        soups = db.session.scalar(db.select(Category).where(Category.slug == "soups"))
        food = db.session.scalar(db.select(Category).where(Category.slug == "food"))
        soups.parent_id = food.id
        db.session.commit()
    return {name: post_id for name, (post_id, _path) in made.items()}


def titles(client: FlaskClient, url: str) -> list[str]:
    response = client.get(url)
    assert response.status_code == 200, url
    table = next(t for t in page(response).iter("table"))
    rows = table.find("tbody").findall("tr")
    return sorted(text(row.findall("td")[1]) for row in rows if len(row.findall("td")) > 1)


def status_of(app: Flask, post_id: int) -> PostStatus:
    with app.app_context():
        return db.session.get(Post, post_id).status


def bulk(client: FlaskClient, action: str, *ids: int, next_url: str = "/admin/posts"):
    return client.post(
        "/admin/posts/bulk",
        data={"action": action, "ids": [str(i) for i in ids], "next": next_url},
    )


def test_search_matches_title_and_text_literally(admin_client: FlaskClient, shelf) -> None:
    assert titles(admin_client, "/admin/posts?s=bread") == ["Sourdough bread"]
    assert titles(admin_client, "/admin/posts?s=leeks") == ["Winter soup"]
    assert titles(admin_client, "/admin/posts?s=50_50") == ["Rye notes"]
    assert titles(admin_client, "/admin/posts?s=5__0") == []  # _ is no wildcard
    empty = page(admin_client.get("/admin/posts?s=nothing-like-it"))
    assert "No posts match these filters." in text(empty)


def test_filters_by_author_tag_and_category(app: Flask, admin_client, shelf) -> None:
    with app.app_context():
        from blog.services.users import find_user

        otto = find_user("otto").id
    assert titles(admin_client, f"/admin/posts?author={otto}") == ["Runner beans", "Rye notes"]
    assert titles(admin_client, "/admin/posts?tag=baking") == ["Rye notes", "Sourdough bread"]
    # A category takes in its subcategories, as its public archive does.
    assert titles(admin_client, "/admin/posts?category=food") == ["Sourdough bread", "Winter soup"]
    assert titles(admin_client, "/admin/posts?category=soups") == ["Winter soup"]
    assert titles(admin_client, "/admin/posts?tag=nope") == []
    # Filters combine, and with the status tabs.
    assert titles(admin_client, f"/admin/posts?author={otto}&tag=baking") == ["Rye notes"]
    assert titles(admin_client, "/admin/posts?status=draft&tag=baking") == ["Rye notes"]
    # Each row's author, category and tag are links that filter, keeping the other filters.
    root = page(admin_client.get("/admin/posts?s=r"))
    hrefs = {a.get("href") for a in root.iter("a")}
    assert f"/admin/posts?s=r&author={otto}" in hrefs
    assert "/admin/posts?s=r&tag=baking" in hrefs
    assert "/admin/posts?s=r&category=garden" in hrefs


def test_an_author_filters_only_their_own(app: Flask, shelf) -> None:
    otto = app.test_client()
    login(otto, "otto")
    assert titles(otto, "/admin/posts?tag=baking") == ["Rye notes"]
    # No author filter is offered to them, and one in the address changes nothing.
    assert titles(otto, "/admin/posts?author=1") == ["Runner beans", "Rye notes"]
    assert page(otto.get("/admin/posts")).find(".//select[@name='author']") is None


def test_bulk_actions(app: Flask, admin_client: FlaskClient, shelf) -> None:
    response = bulk(
        admin_client, "trash", shelf["bread"], shelf["rye"], next_url="/admin/posts?s=r"
    )
    assert response.headers["Location"] == "/admin/posts?s=r"
    assert "2 posts moved to the trash." in text(page(admin_client.get("/admin/posts")))
    assert status_of(app, shelf["bread"]) == PostStatus.TRASH
    # Restored as they were: the published one published, the draft a draft.
    bulk(admin_client, "restore", shelf["bread"], shelf["rye"], shelf["soup"])
    assert "2 posts restored. 1 skipped" in text(page(admin_client.get("/admin/posts")))
    assert status_of(app, shelf["bread"]) == PostStatus.PUBLISHED
    assert status_of(app, shelf["rye"]) == PostStatus.DRAFT
    bulk(admin_client, "publish", shelf["rye"], shelf["bread"])
    assert "1 post published. 1 skipped" in text(page(admin_client.get("/admin/posts")))
    assert status_of(app, shelf["rye"]) == PostStatus.PUBLISHED
    bulk(admin_client, "unpublish", shelf["rye"], shelf["beans"])
    assert {status_of(app, shelf[n]) for n in ("rye", "beans")} == {PostStatus.DRAFT}


def test_bulk_publish_of_a_draft_dated_ahead_schedules_it(app: Flask, admin: str, admin_client):
    later = datetime.now(UTC) + timedelta(days=3)
    post_id, _ = create_post(app, admin, "Later", action="draft", published_at=later)
    bulk(admin_client, "publish", post_id)
    assert status_of(app, post_id) == PostStatus.SCHEDULED


def test_bulk_skips_what_is_not_yours_and_says_so(app: Flask, shelf) -> None:
    otto = app.test_client()
    login(otto, "otto")
    bulk(otto, "trash", shelf["bread"], shelf["beans"])
    assert status_of(app, shelf["bread"]) == PostStatus.PUBLISHED
    assert status_of(app, shelf["beans"]) == PostStatus.TRASH
    assert "1 post moved to the trash. 1 skipped" in text(page(otto.get("/admin/posts")))


def test_bulk_is_for_those_who_write(app: Flask, admin: str) -> None:
    post_id, _ = create_post(app, admin, "Mine", action="draft")
    moderator = app.test_client()
    create_user(app, "mod", "moderator")
    login(moderator, "mod")
    assert bulk(moderator, "publish", post_id).status_code == 403
    assert status_of(app, post_id) == PostStatus.DRAFT


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": "", "ids": ["1"]}, "Pick an action for the ticked posts."),
        ({"action": "explode", "ids": ["1"]}, "Pick an action for the ticked posts."),
        ({"action": "trash"}, "Tick at least one post first."),
    ],
)
def test_bulk_says_what_is_missing(admin_client: FlaskClient, shelf, data, message) -> None:
    response = admin_client.post(
        "/admin/posts/bulk", data={**data, "next": "https://evil.example/"}
    )
    assert response.headers["Location"] == "/admin/posts"
    assert message in text(page(admin_client.get("/admin/posts")))
