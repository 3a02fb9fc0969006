"""Slugs: made from titles, unique, editable, and old addresses that keep working."""

from __future__ import annotations

import unicodedata

import pytest
from conftest import create_post, create_user
from flask import Flask
from flask.testing import FlaskClient

from blog.extensions import db
from blog.models import Post, PostType
from blog.services.posts import RESERVED_SLUGS, SLUG_MAX, slugify

# --- slugify, the pure part ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Hello World", "hello-world"),
        ("Héllo Wörld", "hello-world"),
        ("Ça va? Très bien!", "ca-va-tres-bien"),
        ("Crème brûlée à la française", "creme-brulee-a-la-francaise"),
        ("Tiếng Việt có dấu", "tieng-viet-co-dau"),
        ("Łódź and Straße", "lodz-and-strasse"),
        ("Æsir, Œuvre, Øresund", "aesir-oeuvre-oresund"),
        ("ﬁne ligatures", "fine-ligatures"),
        ("Ｆｕｌｌｗｉｄｔｈ １２３", "fullwidth-123"),
    ],
)
def test_accents_are_folded(title: str, slug: str) -> None:
    assert slugify(title) == slug


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Привет, мир", "привет-мир"),
        ("Γειά σου Κόσμε", "γειά-σου-κόσμε"),
        ("日本語のブログ", "日本語のブログ"),
        ("データベース", "データベース"),  # voiced kana keep their marks
        ("한국어 블로그", "한국어-블로그"),
        ("नमस्ते दुनिया", "नमस्ते-दुनिया"),  # vowel signs and virama stay in the word
        ("مرحبا بالعالم", "مرحبا-بالعالم"),
        ("עברית", "עברית"),
    ],
)
def test_non_latin_letters_are_kept(title: str, slug: str) -> None:
    result = slugify(title)
    assert result == slug
    assert unicodedata.is_normalized("NFC", result)


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Hello, World!", "hello-world"),
        ("  --Leading and trailing--  ", "leading-and-trailing"),
        ("snake_case_title", "snake-case-title"),
        ("Dots.and/slashes\\too", "dots-and-slashes-too"),
        ("C'est l'été", "c-est-l-ete"),
        ("What?! Really???", "what-really"),
        ("Tabs\tand\nnewlines", "tabs-and-newlines"),
        ("<script>alert(1)</script>", "script-alert-1-script"),
        ("100% sure & 50$", "100-sure-50"),
        ("I ❤ Flask 🎉", "i-flask"),
        ("!!!", ""),
        ("", ""),
    ],
)
def test_punctuation_becomes_single_hyphens(title: str, slug: str) -> None:
    assert slugify(title) == slug


def test_length_is_limited_without_a_trailing_hyphen() -> None:
    assert len(slugify("a" * 500)) == SLUG_MAX
    cut = slugify("word " * 100, max_length=22)
    assert cut == "word-word-word-word"
    assert len(slugify("é" * 300)) == SLUG_MAX


@pytest.mark.parametrize("slug", ["hello-world", "привет-мир", "a-1"])
def test_slugify_is_idempotent(slug: str) -> None:
    assert slugify(slug) == slug


# --- slugs of stored posts -----------------------------------------------------------------


@pytest.fixture
def author(app: Flask) -> str:
    create_user(app, "alice", "author")
    return "alice"


def _slug(app: Flask, post_id: int) -> str:
    with app.app_context():
        post = db.session.get(Post, post_id)
        assert post is not None
        return post.slug


def test_slug_comes_from_the_title(app: Flask, author: str) -> None:
    _, path = create_post(app, author, "Ça marche très bien!")
    assert path.endswith("/ca-marche-tres-bien/")


@pytest.mark.parametrize("title", ["Привет, мир", "データベース入門", "नमस्ते दुनिया"])
def test_non_latin_slugs_answer(app: Flask, client: FlaskClient, author: str, title: str) -> None:
    post_id, path = create_post(app, author, title, "Unicode body")
    assert _slug(app, post_id) == slugify(title)
    assert "%" in path  # url_for percent-encodes the UTF-8
    response = client.get(path)
    assert response.status_code == 200
    assert "Unicode body" in response.text


def test_slugs_are_unique(app: Flask, client: FlaskClient, author: str) -> None:
    paths = [create_post(app, author, "Same title", f"Body {n}")[1] for n in range(3)]
    assert [p.rsplit("/", 2)[1] for p in paths] == ["same-title", "same-title-2", "same-title-3"]
    for n, path in enumerate(paths):
        assert f"Body {n}" in client.get(path).text


def test_drafts_and_pages_share_the_slug_space(app: Flask, author: str) -> None:
    draft_id, _ = create_post(app, author, "About", action="draft")
    page_id, path = create_post(app, author, "About", type=PostType.PAGE)
    assert _slug(app, draft_id) == "about"
    assert path == "/about-2/"


@pytest.mark.parametrize("word", sorted(w for w in RESERVED_SLUGS if slugify(w) == w))
def test_reserved_words_get_a_suffix(
    app: Flask, client: FlaskClient, author: str, word: str
) -> None:
    post_id, path = create_post(app, author, word, type=PostType.PAGE)
    slug = _slug(app, post_id)
    assert slug != slugify(word)
    assert slug.startswith(slugify(word) + "-")
    assert client.get(path).status_code == 200


@pytest.mark.parametrize("title", ["2024", "404", "1"])
def test_all_digit_slugs_get_a_suffix(app: Flask, author: str, title: str) -> None:
    post_id, _ = create_post(app, author, title)
    assert _slug(app, post_id) == f"{title}-2"


@pytest.mark.parametrize("title", ["!!!", "🎉🎉", "---"])
def test_title_without_letters_still_gets_a_slug(app: Flask, author: str, title: str) -> None:
    post_id, path = create_post(app, author, title)
    assert _slug(app, post_id) == "post"
    second_id, _ = create_post(app, author, title)
    assert _slug(app, second_id) == "post-2"


def test_long_titles_make_unique_slugs_within_the_limit(app: Flask, author: str) -> None:
    title = "long " * 59
    first = _slug(app, create_post(app, author, title)[0])
    second = _slug(app, create_post(app, author, title)[0])
    assert len(first) <= SLUG_MAX and len(second) <= SLUG_MAX
    assert second.endswith("-2") and first != second
    assert "--" not in second


# --- editing the slug ----------------------------------------------------------------------


def _edit(client: FlaskClient, post_id: int, **fields: str):
    data = {"title": "Original title", "type": "post", "action": "update", **fields}
    return client.post(f"/admin/posts/{post_id}/edit", data=data)


def _path(app: Flask, post_id: int) -> str:
    from blog.templating import post_path

    with app.app_context():
        post = db.session.get(Post, post_id)
        assert post is not None
        with app.test_request_context():
            return post_path(post)


def test_a_changed_slug_redirects_the_old_address(app: Flask, admin_client: FlaskClient) -> None:
    post_id, old_path = create_post(app, "admin", "Original title")
    response = _edit(admin_client, post_id, slug="Better Slug!")
    assert response.status_code == 303
    assert _slug(app, post_id) == "better-slug"
    new_path = _path(app, post_id)
    reader = app.test_client()
    assert reader.get(new_path).status_code == 200
    moved = reader.get(old_path)
    assert moved.status_code == 301
    assert moved.location == new_path
    # Also from the undated address and with a wrong month.
    assert reader.get("/original-title/").location == new_path
    assert reader.get("/1999/01/original-title/").location == new_path


def test_changing_the_slug_twice_keeps_every_old_address(
    app: Flask, admin_client: FlaskClient
) -> None:
    post_id, first = create_post(app, "admin", "Original title")
    _edit(admin_client, post_id, slug="second")
    second = _path(app, post_id)
    _edit(admin_client, post_id, slug="third")
    third = _path(app, post_id)
    reader = app.test_client()
    assert reader.get(first).location == third
    assert reader.get(second).location == third
    # Back to the first slug: it is the post's own again, and the others redirect to it.
    _edit(admin_client, post_id, slug="original-title")
    assert _path(app, post_id) == first
    assert reader.get(first).status_code == 200
    assert reader.get(third).location == first


def test_retitling_keeps_the_slug_unless_asked(app: Flask, admin_client: FlaskClient) -> None:
    post_id, path = create_post(app, "admin", "Original title")
    _edit(admin_client, post_id, title="A whole new title", slug="original-title")
    assert _path(app, post_id) == path
    _edit(admin_client, post_id, title="A whole new title", slug="")
    assert _slug(app, post_id) == "original-title"


def test_a_slug_taken_by_another_post_gets_a_suffix(app: Flask, admin_client: FlaskClient) -> None:
    create_post(app, "admin", "Taken")
    post_id, _ = create_post(app, "admin", "Original title")
    _edit(admin_client, post_id, slug="taken")
    assert _slug(app, post_id) == "taken-2"


def test_an_old_slug_is_not_handed_to_another_post(app: Flask, admin_client: FlaskClient) -> None:
    post_id, old_path = create_post(app, "admin", "Original title")
    _edit(admin_client, post_id, slug="renamed")
    other_id, _ = create_post(app, "admin", "Original title")
    assert _slug(app, other_id) == "original-title-2"
    assert app.test_client().get(old_path).location == _path(app, post_id)


@pytest.mark.parametrize("slug", ["admin", "2024"])
def test_an_edited_slug_cannot_take_a_reserved_word(
    app: Flask, admin_client: FlaskClient, slug: str
) -> None:
    post_id, _ = create_post(app, "admin", "Original title")
    _edit(admin_client, post_id, slug=slug)
    assert _slug(app, post_id) == f"{slug}-2"
