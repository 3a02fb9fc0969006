"""Tags and categories in the admin: list with counts, add, rename, slug change with its
redirect, describe, parent (no loops), merge, delete; readers' cached pages follow."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from conftest import count_statements, create_post, create_user, login
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from blog.extensions import db
from blog.models import Category, Post, Tag, TermRedirect, post_categories, post_tags
from blog.services import terms as term_service


def _tag(app: Flask, slug: str) -> Tag | None:
    with app.app_context():
        tag = db.session.scalar(select(Tag).where(Tag.slug == slug))
        if tag is not None:
            db.session.expunge(tag)
        return tag


def _category(app: Flask, slug: str) -> Category | None:
    with app.app_context():
        found = db.session.scalar(select(Category).where(Category.slug == slug))
        if found is not None:
            db.session.expunge(found)
        return found


def _post_terms(app: Flask, post_id: int) -> tuple[list[str], list[str]]:
    with app.app_context():
        post = db.session.get(Post, post_id)
        assert post is not None
        return [t.slug for t in post.tags], [c.slug for c in post.categories]


def _edit(client: FlaskClient, kinds: str, term_id: int, **fields):
    data = {"name": "", "slug": "", "description": "", "parent": ""}
    data.update(fields)
    return client.post(f"/admin/{kinds}/{term_id}", data=data)


@pytest.fixture
def tagged(app: Flask, admin: str) -> dict[str, int]:
    """Two published posts: one tagged python+flask in News, one tagged python in Notes."""
    first, _ = create_post(app, admin, "First", tags=["Python", "Flask"], categories=["News"])
    second, _ = create_post(app, admin, "Second", tags=["Python"], categories=["Notes"])
    return {"first": first, "second": second}


def _path(app: Flask, post_id: int) -> str:
    from blog.templating import post_path

    with app.app_context(), app.test_request_context():
        post = db.session.get(Post, post_id)
        assert post is not None
        return post_path(post)


# --- the list --------------------------------------------------------------------------


def test_the_list_shows_names_slugs_and_counts(
    app: Flask, admin_client: FlaskClient, tagged: dict[str, int]
) -> None:
    create_post(app, "admin", "Draft", action="draft", tags=["Python"])
    html = admin_client.get("/admin/tags").get_data(as_text=True)
    assert "Python" in html and "Flask" in html
    # Python: two published posts and a draft; links to the posts list filtered by it.
    assert 'href="/admin/posts?tag=python" aria-label="3 posts in Python">3</a>' in html
    assert 'href="/admin/posts?tag=flask" aria-label="1 post in Flask">1</a>' in html
    assert 'href="/tag/python/"' in html
    html = admin_client.get("/admin/categories").get_data(as_text=True)
    assert 'href="/admin/posts?category=news"' in html and 'href="/category/news/"' in html


def test_the_list_searches_and_pages(app: Flask, admin_client: FlaskClient, admin: str) -> None:
    with app.app_context():
        db.session.add_all(Tag(name=f"Topic {n:02d}", slug=f"topic-{n:02d}") for n in range(25))
        db.session.add(Tag(name="100%_sure", slug="sure"))
        db.session.commit()
    first = admin_client.get("/admin/tags").get_data(as_text=True)
    assert "Topic 00" in first and "Topic 19" not in first and "Page 1 of 2" in first
    second = admin_client.get("/admin/tags?page=2").get_data(as_text=True)
    assert "Topic 19" in second and "Topic 00" not in second
    found = admin_client.get("/admin/tags?s=topic+07").get_data(as_text=True)
    assert "Topic 07" in found and "Topic 08" not in found
    # LIKE's wildcards are searched for literally.
    found = admin_client.get("/admin/tags?s=%25_").get_data(as_text=True)
    assert "100%_sure" in found and "Topic 01" not in found
    assert admin_client.get("/admin/tags?page=99999999999").status_code == 200


def test_the_list_counts_in_one_query_whatever_its_length(
    app: Flask, admin_client: FlaskClient, admin: str
) -> None:
    create_post(app, admin, "One", tags=["a1", "a2"], categories=["c1"])
    few = count_statements(app, admin_client, "/admin/tags")
    for n in range(12):
        create_post(app, admin, f"Post {n}", tags=[f"t{n}", f"u{n}"], categories=[f"c{n}"])
    assert count_statements(app, admin_client, "/admin/tags") == few
    assert count_statements(app, admin_client, "/admin/categories") <= few + 1


# --- add -------------------------------------------------------------------------------


def test_add_a_tag_and_a_subcategory(app: Flask, admin_client: FlaskClient) -> None:
    response = admin_client.post(
        "/admin/tags", data={"name": "Machine Learning", "slug": "", "description": "ML."}
    )
    assert response.status_code == 303
    tag = _tag(app, "machine-learning")
    assert tag is not None and tag.description == "ML."
    admin_client.post("/admin/categories", data={"name": "Travel", "slug": "", "parent": ""})
    parent = _category(app, "travel")
    assert parent is not None
    response = admin_client.post(
        "/admin/categories", data={"name": "Japan", "slug": "jp", "parent": str(parent.id)}
    )
    assert response.status_code == 303
    child = _category(app, "jp")
    assert child is not None and child.parent_id == parent.id


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": ""}, "Give the tag a name."),
        ({"name": "x" * 201}, "The name is 201 characters; the limit is 200."),
        ({"name": "Ok", "slug": "s" * 201}, "The slug is 201 characters; the limit is 200."),
        ({"name": "Ok", "slug": "a/b"}, "The slug may hold only letters, digits and hyphens"),
        ({"name": "Ok", "slug": "<script>"}, "The slug may hold only letters"),
        ({"name": "Ok", "slug": "---"}, "The slug needs at least one letter or digit."),
        ({"name": "!!!"}, "no letter or digit to make an address from"),
        ({"name": "Bad\x00name"}, "contains a NUL character"),
        ({"name": "Ok", "description": "d" * 5001}, "the limit is 5,000"),
        ({"name": "python"}, "A tag named “Python” already exists"),
        ({"name": "Other", "slug": "Python"}, "The tag “Python” already has the slug “python”"),
    ],
)
def test_bad_input_is_refused_and_kept(
    app: Flask, admin_client: FlaskClient, tagged: dict[str, int], fields: dict, message: str
) -> None:
    data = {"name": "", "slug": "", "description": ""} | fields
    before = _count(app, Tag)
    response = admin_client.post("/admin/tags", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in html
    assert _count(app, Tag) == before
    if fields.get("name") and "\x00" not in fields["name"] and len(fields["name"]) < 50:
        assert f'value="{fields["name"]}"' in html  # the form keeps what was typed


def _count(app: Flask, model) -> int:
    with app.app_context():
        return db.session.scalar(select(sa.func.count()).select_from(model)) or 0


def test_a_typed_slug_is_normalised(app: Flask, admin_client: FlaskClient) -> None:
    admin_client.post("/admin/tags", data={"name": "Café", "slug": "Café Crème"})
    assert _tag(app, "cafe-creme") is not None


def test_same_category_name_is_fine_under_different_parents(
    app: Flask, admin_client: FlaskClient
) -> None:
    admin_client.post("/admin/categories", data={"name": "Europe", "parent": ""})
    admin_client.post("/admin/categories", data={"name": "Asia", "parent": ""})
    europe, asia = _category(app, "europe"), _category(app, "asia")
    assert europe and asia
    ok = admin_client.post(
        "/admin/categories", data={"name": "News", "slug": "eu-news", "parent": str(europe.id)}
    )
    assert ok.status_code == 303
    ok = admin_client.post(
        "/admin/categories", data={"name": "News", "slug": "asia-news", "parent": str(asia.id)}
    )
    assert ok.status_code == 303
    twice = admin_client.post(
        "/admin/categories", data={"name": "news", "slug": "eu-news-2", "parent": str(europe.id)}
    )
    assert twice.status_code == 400
    assert "already exists at that level" in twice.get_data(as_text=True)


# --- rename, slug change, redirects -----------------------------------------------------


def test_rename_and_change_slug_redirects_the_old_address(
    app: Flask, admin_client: FlaskClient, tagged: dict[str, int]
) -> None:
    tag = _tag(app, "python")
    assert tag is not None
    response = _edit(admin_client, "tags", tag.id, name="Python 3", slug="python3")
    assert response.status_code == 303
    anonymous = app.test_client()
    moved = anonymous.get("/tag/python/")
    assert moved.status_code == 301 and moved.headers["Location"] == "/tag/python3/"
    assert anonymous.get("/tag/python/page/2/").headers["Location"] == "/tag/python3/page/2/"
    assert "Tag: Python 3" in anonymous.get("/tag/python3/").get_data(as_text=True)
    # A second change: the first old slug goes straight to the newest (no chain).
    _edit(admin_client, "tags", tag.id, name="Py", slug="py")
    assert anonymous.get("/tag/python/").headers["Location"] == "/tag/py/"
    assert anonymous.get("/tag/python3/").headers["Location"] == "/tag/py/"
    # Back to an old slug: the address is the term's again, no redirect loop.
    _edit(admin_client, "tags", tag.id, name="Python", slug="python")
    assert anonymous.get("/tag/python/").status_code == 200
    assert anonymous.get("/tag/py/").headers["Location"] == "/tag/python/"


def test_an_empty_slug_on_the_edit_form_keeps_the_slug(
    app: Flask, admin_client: FlaskClient, tagged: dict[str, int]
) -> None:
    tag = _tag(app, "flask")
    assert tag is not None
    assert _edit(admin_client, "tags", tag.id, name="Flask web").status_code == 303
    renamed = _tag(app, "flask")
    assert renamed is not None and renamed.name == "Flask web"


def test_a_new_term_taking_an_old_slug_wins_over_the_redirect(
    app: Flask, admin_client: FlaskClient, tagged: dict[str, int]
) -> None:
    tag = _tag(app, "flask")
    assert tag is not None
    _edit(admin_client, "tags", tag.id, name="Flask", slug="flask-web")
    assert app.test_client().get("/tag/flask/").status_code == 301
    admin_client.post("/admin/tags", data={"name": "Flask (new)", "slug": "flask"})
    create_post(app, "admin", "New flask", tags=["flask"])
    assert app.test_client().get("/tag/flask/").status_code == 200
    with app.app_context():
        assert (
            db.session.scalar(select(TermRedirect).where(TermRedirect.old_slug == "flask")) is None
        )
    # And renaming the old one again does not trip over the slug now taken.
    assert _edit(admin_client, "tags", tag.id, name="Flask", slug="flask-2").status_code == 303


def test_a_category_slug_change_redirects(
    app: Flask, admin_client: FlaskClient, tagged: dict[str, int]
) -> None:
    news = _category(app, "news")
    assert news is not None
    _edit(admin_client, "categories", news.id, name="Headlines", slug="headlines")
    moved = app.test_client().get("/category/news/")
    assert moved.status_code == 301 and moved.headers["Location"] == "/category/headlines/"
    assert app.test_client().get("/category/news/?page=2").headers["Location"] == (
        "/category/headlines/?page=2"
    )


def test_rename_shows_at_once_to_anonymous_readers(
    app: Flask, admin_client: FlaskClient, tagged: dict[str, int]
) -> None:
    """Post pages and archives show terms; they are cached; a rename bumps the cache."""
    anonymous = app.test_client()
    with app.app_context():
        post = db.session.get(Post, tagged["first"])
        assert post is not None
        from blog.templating import post_path

        with app.test_request_context():
            path = post_path(post)
    assert "Python" in anonymous.get(path).get_data(as_text=True)
    assert "Tag: Python" in anonymous.get("/tag/python/").get_data(as_text=True)
    # Both are now served from the page cache, without asking the database.
    assert count_statements(app, anonymous, path) == 0
    assert count_statements(app, anonymous, "/tag/python/") == 0
    tag = _tag(app, "python")
    assert tag is not None
    _edit(admin_client, "tags", tag.id, name="Snakes", slug="python", description="All about it.")
    page = anonymous.get(path).get_data(as_text=True)
    assert "Snakes" in page
    archive = anonymous.get("/tag/python/").get_data(as_text=True)
    assert "Tag: Snakes" in archive and "All about it." in archive


def test_the_description_is_shown_as_plain_text(
    app: Flask, admin_client: FlaskClient, tagged: dict[str, int]
) -> None:
    news = _category(app, "news")
    assert news is not None
    text = "First <script>alert(1)</script> & <b>bold</b>\r\n\r\nSecond paragraph."
    _edit(admin_client, "categories", news.id, name="News", slug="news", description=text)
    html = app.test_client().get("/category/news/").get_data(as_text=True)
    assert "<script>alert(1)" not in html and "<b>bold" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;</p>" in html
    assert "<p>Second paragraph.</p>" in html


# --- parents ---------------------------------------------------------------------------


def test_a_parent_that_makes_a_loop_is_refused(app: Flask, admin_client: FlaskClient) -> None:
    admin_client.post("/admin/categories", data={"name": "A", "slug": "a", "parent": ""})
    a = _category(app, "a")
    assert a
    admin_client.post("/admin/categories", data={"name": "B", "slug": "b", "parent": str(a.id)})
    b = _category(app, "b")
    assert b
    admin_client.post("/admin/categories", data={"name": "C", "slug": "c", "parent": str(b.id)})
    c = _category(app, "c")
    assert c
    # The picker does not offer A itself or what is below it...
    page = admin_client.get(f"/admin/categories/{a.id}").get_data(as_text=True)
    assert f'value="{b.id}"' not in page and f'value="{c.id}"' not in page
    # ...and a forged choice is refused with a message that says why.
    response = _edit(admin_client, "categories", a.id, name="A", slug="a", parent=str(c.id))
    assert response.status_code == 400
    assert "“C” is inside “A”, so it cannot be its parent" in response.get_data(as_text=True)
    response = _edit(admin_client, "categories", a.id, name="A", slug="a", parent=str(a.id))
    assert "A category cannot be its own parent." in response.get_data(as_text=True)
    fresh = _category(app, "a")
    assert fresh is not None and fresh.parent_id is None
    # A sound move works: C to the top.
    assert _edit(admin_client, "categories", c.id, name="C", slug="c").status_code == 303
    moved = _category(app, "c")
    assert moved is not None and moved.parent_id is None


# --- merge -----------------------------------------------------------------------------


def test_merge_asks_first_then_moves_posts_and_redirects(
    app: Flask, admin_client: FlaskClient, tagged: dict[str, int]
) -> None:
    reader, path = app.test_client(), _path(app, tagged["first"])
    assert 'href="/tag/flask/"' in reader.get(path).get_data(as_text=True)
    flask_tag, python = _tag(app, "flask"), _tag(app, "python")
    assert flask_tag and python
    ask = admin_client.post(f"/admin/tags/{flask_tag.id}/merge", data={"target": "Python"})
    assert ask.status_code == 200
    assert "Merge into “Python”" in ask.get_data(as_text=True)
    assert _tag(app, "flask") is not None  # the first POST changed nothing
    done = admin_client.post(
        f"/admin/tags/{flask_tag.id}/merge", data={"target": "python", "confirm": "yes"}
    )
    assert done.status_code == 303
    assert _tag(app, "flask") is None
    # The first post had both: it keeps one; no duplicate row.
    assert _post_terms(app, tagged["first"])[0] == ["python"]
    with app.app_context():
        rows = db.session.execute(select(post_tags)).all()
        assert len(rows) == 2
    moved = app.test_client().get("/tag/flask/")
    assert moved.status_code == 301 and moved.headers["Location"] == "/tag/python/"
    page = reader.get(path).get_data(as_text=True)  # the cached page is stale: rendered anew
    assert 'href="/tag/flask/"' not in page and 'href="/tag/python/"' in page


def test_merge_carries_older_redirects_along(
    app: Flask, admin_client: FlaskClient, tagged: dict[str, int]
) -> None:
    flask_tag = _tag(app, "flask")
    assert flask_tag
    _edit(admin_client, "tags", flask_tag.id, name="Flask", slug="flask-web")
    admin_client.post(
        f"/admin/tags/{flask_tag.id}/merge", data={"target": "python", "confirm": "yes"}
    )
    anonymous = app.test_client()
    assert anonymous.get("/tag/flask/").headers["Location"] == "/tag/python/"
    assert anonymous.get("/tag/flask-web/").headers["Location"] == "/tag/python/"


def test_merge_into_an_unknown_or_the_same_term_is_refused(
    app: Flask, admin_client: FlaskClient, tagged: dict[str, int]
) -> None:
    python = _tag(app, "python")
    assert python
    for target in ("nope", "python", ""):
        response = admin_client.post(
            f"/admin/tags/{python.id}/merge", data={"target": target, "confirm": "yes"}
        )
        assert response.status_code == 400
    assert _tag(app, "python") is not None


def test_merging_categories_moves_children(
    app: Flask, admin_client: FlaskClient, tagged: dict[str, int]
) -> None:
    news, notes = _category(app, "news"), _category(app, "notes")
    assert news and notes
    admin_client.post("/admin/categories", data={"name": "Local", "parent": str(news.id)})
    admin_client.post(
        f"/admin/categories/{news.id}/merge", data={"target": "notes", "confirm": "yes"}
    )
    local = _category(app, "local")
    assert local is not None and local.parent_id == notes.id
    assert _post_terms(app, tagged["first"])[1] == ["notes"]
    assert app.test_client().get("/category/news/").headers["Location"] == "/category/notes/"


def test_merging_a_category_into_its_own_child(app: Flask, admin_client: FlaskClient) -> None:
    admin_client.post("/admin/categories", data={"name": "Top", "parent": ""})
    top = _category(app, "top")
    assert top
    admin_client.post("/admin/categories", data={"name": "Mid", "parent": str(top.id)})
    mid = _category(app, "mid")
    assert mid
    admin_client.post("/admin/categories", data={"name": "Leaf", "parent": str(mid.id)})
    admin_client.post("/admin/categories", data={"name": "Side", "parent": str(top.id)})
    leaf = _category(app, "leaf")
    assert leaf
    response = admin_client.post(
        f"/admin/categories/{top.id}/merge", data={"target": "leaf", "confirm": "yes"}
    )
    assert response.status_code == 303
    with app.app_context():
        rows = dict(db.session.execute(select(Category.slug, Category.parent_id)).all())
        ids = dict(db.session.execute(select(Category.slug, Category.id)).all())
    assert rows == {"leaf": None, "mid": ids["leaf"], "side": ids["leaf"]}


# --- delete ----------------------------------------------------------------------------


def test_delete_asks_first_then_removes_and_404s(
    app: Flask, admin_client: FlaskClient, tagged: dict[str, int]
) -> None:
    python = _tag(app, "python")
    assert python
    _edit(admin_client, "tags", python.id, name="Python", slug="py")
    reader, path = app.test_client(), _path(app, tagged["second"])
    assert 'href="/tag/py/"' in reader.get(path).get_data(as_text=True)
    assert count_statements(app, reader, path) == 0  # cached
    ask = admin_client.post(f"/admin/tags/{python.id}/delete")
    assert ask.status_code == 200 and "Delete “Python”" in ask.get_data(as_text=True)
    assert _tag(app, "py") is not None
    done = admin_client.post(f"/admin/tags/{python.id}/delete", data={"confirm": "yes"})
    assert done.status_code == 303
    assert _tag(app, "py") is None
    assert _post_terms(app, tagged["first"])[0] == ["flask"]
    assert _post_terms(app, tagged["second"])[0] == []
    assert 'href="/tag/py/"' not in reader.get(path).get_data(as_text=True)
    anonymous = app.test_client()
    assert anonymous.get("/tag/py/").status_code == 404
    assert anonymous.get("/tag/python/").status_code == 404  # the old slug does not redirect
    with app.app_context():
        assert db.session.scalar(select(sa.func.count()).select_from(TermRedirect)) == 0


def test_deleting_a_category_moves_its_children_up(
    app: Flask, admin_client: FlaskClient, tagged: dict[str, int]
) -> None:
    news = _category(app, "news")
    assert news
    admin_client.post("/admin/categories", data={"name": "World", "parent": ""})
    world = _category(app, "world")
    assert world
    _edit(admin_client, "categories", news.id, name="News", slug="news", parent=str(world.id))
    admin_client.post("/admin/categories", data={"name": "Local", "parent": str(news.id)})
    admin_client.post(f"/admin/categories/{news.id}/delete", data={"confirm": "yes"})
    local = _category(app, "local")
    assert local is not None and local.parent_id == world.id
    # No default category in this blog: the post is left with none, and still shows.
    assert _post_terms(app, tagged["first"])[1] == []
    with app.app_context():
        assert db.session.execute(select(post_categories)).all() != []


def test_unknown_terms_are_404(admin_client: FlaskClient) -> None:
    assert admin_client.get("/admin/tags/999").status_code == 404
    assert admin_client.get("/admin/tags/99999999999999").status_code == 404
    assert admin_client.post("/admin/tags/999/delete", data={"confirm": "yes"}).status_code == 404
    assert admin_client.get("/admin/colours").status_code == 404


# --- who may -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("admin", True),
        ("editor", True),
        ("author", False),
        ("moderator", False),
        ("subscriber", False),
    ],
)
def test_editors_and_admins_manage_terms(
    app: Flask, client: FlaskClient, role: str, allowed: bool
) -> None:
    create_user(app, "someone", role)
    login(client, "someone")
    for path in ("/admin/tags", "/admin/categories"):
        assert client.get(path).status_code == (200 if allowed else 403)
    nav = client.get("/admin/").get_data(as_text=True)
    assert ('href="/admin/tags"' in nav) == allowed
    response = client.post("/admin/tags", data={"name": "Sneaky"})
    assert response.status_code == (303 if allowed else 403)
    assert (_tag(app, "sneaky") is not None) == allowed


def test_forms_need_the_csrf_token(csrf_app: Flask, admin: str) -> None:
    client = csrf_app.test_client()
    login_page = client.get("/login").get_data(as_text=True)
    token = login_page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    client.post(
        "/login", data={"username": admin, "password": "correct horse battery", "csrf_token": token}
    )
    assert client.post("/admin/tags", data={"name": "NoToken"}).status_code == 400
    assert _tag(csrf_app, "notoken") is None


def test_service_merge_counts_moved_posts(app: Flask, tagged: dict[str, int]) -> None:
    with app.app_context():
        flask_tag = db.session.scalar(select(Tag).where(Tag.slug == "flask"))
        python = db.session.scalar(select(Tag).where(Tag.slug == "python"))
        assert flask_tag and python
        assert term_service.merge("tag", python, flask_tag) == 1
        assert term_service.post_count("tag", flask_tag) == 2


def test_a_slug_taken_meanwhile_is_a_message_not_an_error(
    app: Flask, admin_client: FlaskClient, tagged: dict[str, int], monkeypatch
) -> None:
    """Two editors saving the same slug at once: the unique index decides, the loser is told."""
    monkeypatch.setattr(term_service, "by_slug", lambda kind, slug: None)
    response = admin_client.post("/admin/tags", data={"name": "Other", "slug": "python"})
    assert response.status_code == 400
    assert "Another tag took the slug “python” just now" in response.get_data(as_text=True)


def test_markup_in_names_is_shown_as_text(
    app: Flask, admin_client: FlaskClient, tagged: dict[str, int]
) -> None:
    name = '<img src=x onerror=alert(1)>"'
    admin_client.post("/admin/tags", data={"name": name, "slug": "img"})
    create_post(app, "admin", "Tagged oddly", tags=["img"])
    escaped = "&lt;img src=x onerror=alert(1)&gt;"
    for page in (admin_client.get("/admin/tags"), app.test_client().get("/tag/img/")):
        html = page.get_data(as_text=True)
        assert "<img src=x" not in html and escaped in html


def test_slugs_in_other_scripts_redirect_encoded(
    app: Flask, admin_client: FlaskClient, tagged: dict[str, int]
) -> None:
    tag = _tag(app, "flask")
    assert tag
    assert _edit(admin_client, "tags", tag.id, name="Колба", slug="Колба").status_code == 303
    moved = app.test_client().get("/tag/flask/")
    assert moved.status_code == 301
    assert moved.headers["Location"] == "/tag/%D0%BA%D0%BE%D0%BB%D0%B1%D0%B0/"
    assert app.test_client().get(moved.headers["Location"]).status_code == 200


def test_deleting_a_term_that_shadowed_a_redirect_leaves_a_404(
    app: Flask, admin_client: FlaskClient, tagged: dict[str, int]
) -> None:
    tag = _tag(app, "flask")
    assert tag
    _edit(admin_client, "tags", tag.id, name="Flask", slug="flask-web")
    create_post(app, "admin", "A new flask", tags=["flask"])  # the editor makes a new "flask"
    newer = _tag(app, "flask")
    assert newer is not None and newer.id != tag.id
    admin_client.post(f"/admin/tags/{newer.id}/delete", data={"confirm": "yes"})
    assert app.test_client().get("/tag/flask/").status_code == 404
