"""What a reader reads: month names and dates in the site's language, excerpts with a
"Continue reading" only where the post is cut, and avatars that ask no other site."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from comment_helpers import (
    add_comment,
    by_id,
    discussion_form,
    page,
    set_discussion,
    text,
    with_class,
)
from conftest import create_post
from flask import Flask
from flask.testing import FlaskClient

from blog import avatars, dates
from blog.extensions import db
from blog.fragments import avatar_hash
from blog.models import Comment, Setting
from blog.services import ServiceError
from blog.services import settings as settings_service

WHEN = datetime(2026, 12, 3, 9, 5, tzinfo=UTC)


def cache_hits(app: Flask) -> int:
    return app.extensions["pagecache"].store.hits


def read(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def stored_read(app: Flask, client: FlaskClient, path: str) -> str:
    """Read twice; the second must come from the page cache (so a later change must bump)."""
    read(client, path)
    hits = cache_hits(app)
    body = read(client, path)
    assert cache_hits(app) == hits + 1, "the page was not served from the store"
    return body


def set_language(app: Flask, code: str) -> None:
    with app.app_context():
        site = settings_service.site_settings()
        settings_service.save_site(
            site.name, site.description, site.timezone, site.posts_per_page, language=code
        )


def img_src(response) -> list[str]:
    policy = response.headers["Content-Security-Policy"]
    directive = next(p.strip() for p in policy.split(";") if p.strip().startswith("img-src "))
    return directive.split()[1:]


# --- month names and dates ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "month", "date", "when"),
    [
        ("", "December 2026", "December 3, 2026", "December 3, 2026 at 09:05"),
        ("fr_FR", "décembre 2026", "3 décembre 2026", "3 décembre 2026 à 09:05"),
        ("de_DE", "Dezember 2026", "3. Dezember 2026", "3. Dezember 2026 um 09:05"),
        (
            "es_ES",
            "diciembre de 2026",
            "3 de diciembre de 2026",
            "3 de diciembre de 2026 a las 09:05",
        ),
        ("it_IT", "dicembre 2026", "3 dicembre 2026", "3 dicembre 2026 alle 09:05"),
        ("nl_NL", "december 2026", "3 december 2026", "3 december 2026 om 09:05"),
        ("pt_BR", "dezembro de 2026", "3 de dezembro de 2026", "3 de dezembro de 2026 às 09:05"),
        ("xx_YY", "December 2026", "December 3, 2026", "December 3, 2026 at 09:05"),
    ],
)
def test_month_names_and_dates_per_language(code: str, month: str, date: str, when: str) -> None:
    assert dates.month_year(2026, 12, code) == month
    assert dates.date_text(WHEN, code) == date
    assert dates.datetime_text(WHEN, code) == when


def test_every_language_names_twelve_months() -> None:
    for code, language in dates.LANGUAGES.items():
        assert len(language.months) == 12, code
        assert len(set(language.months)) == 12, code


def test_archives_name_months_in_the_site_language(app: Flask, client, admin) -> None:
    create_post(app, admin, title="Winter", published_at=datetime(2026, 12, 3, 12, tzinfo=UTC))
    body = stored_read(app, client, "/archives/")
    assert ">December 2026</a> (1)" in body
    assert "2026-12" not in body.replace('href="/2026/12/"', "")
    assert "Month: December 2026" in read(client, "/2026/12/")
    assert ">December 3, 2026</time>" in read(client, "/")
    assert '<html lang="en">' in body

    set_language(app, "fr_FR")
    body = read(client, "/archives/")  # the cached English page is stale
    assert ">décembre 2026</a> (1)" in body
    assert '<html lang="fr">' in body
    month = read(client, "/2026/12/")
    assert "Month: décembre 2026" in month
    assert ">3 décembre 2026</time>" in month
    assert ">3 décembre 2026</time>" in read(client, "/2026/12/winter/")


def test_comment_times_follow_the_language(app: Flask, client, admin) -> None:
    post_id, path = create_post(app, admin, title="Talk")
    comment_id = add_comment(app, post_id, "Bonjour", created_at=WHEN)
    stored_read(app, client, path)
    set_language(app, "de_DE")
    shown = by_id(page(client.get(path)), f"comment-{comment_id}")
    assert text(next(iter(shown.iter("time")))) == "3. Dezember 2026 um 09:05"
    with app.app_context():
        assert db.session.get(Comment, comment_id).fragment_key.endswith("|de_DE")


def test_the_language_is_a_general_setting(app: Flask, admin_client) -> None:
    form = admin_client.get("/admin/settings").get_data(as_text=True)
    assert '<option selected value="">English</option>' in form or ('value="" selected' in form)
    data = {
        "site_name": "My Blog",
        "site_description": "",
        "timezone": "UTC",
        "posts_per_page": "10",
        "language": "it_IT",
        "image_hosts": "https:",
    }
    assert admin_client.post("/admin/settings", data=data).status_code == 303
    with app.app_context():
        assert settings_service.site_settings().language == "it_IT"
        assert db.session.get(Setting, "WPLANG").value == "it_IT"
    refused = admin_client.post("/admin/settings", data={**data, "language": "../../etc"})
    assert refused.status_code == 400
    assert "My Blog" in refused.get_data(as_text=True)
    with app.app_context():
        assert settings_service.site_settings().language == "it_IT"
        with pytest.raises(ServiceError):
            settings_service.save_site("My Blog", "", "UTC", 10, language="klingon")


def test_a_broken_stored_language_reads_as_english(app: Flask, client) -> None:
    with app.app_context():
        db.session.add(Setting(key="WPLANG", value="<script>"))
        db.session.commit()
        assert settings_service.site_settings().language == ""
    assert '<html lang="en">' in read(client, "/")


# --- excerpts -------------------------------------------------------------------------------

SHORT = "Just *two* lines.\n\nThat is all."
LONG = "## A heading\n\nThe opening paragraph. " + "More words here. " * 40 + "\n\n- a\n- b"


@pytest.mark.parametrize(
    "path",
    ["/", "/tag/notes/", "/category/diary/", "/2026/12/", "/search/?q=lines", "/author/admin/"],
)
def test_continue_reading_only_where_the_post_is_cut(app: Flask, client, admin, path) -> None:
    when = datetime(2026, 12, 3, 12, tzinfo=UTC)
    common = {"tags": ["notes"], "categories": ["Diary"], "published_at": when}
    create_post(app, admin, title="Short note", body=SHORT, **common)
    create_post(app, admin, title="Long essay", body=LONG + "\n\nlines", **common)
    create_post(
        app, admin, title="Typed teaser", body=SHORT, excerpt="A teaser of lines.", **common
    )
    root = page(client.get(path))
    summaries = {
        text(next(with_class(article, "post-title"))): article
        for article in with_class(root, "post-summary")
    }
    assert set(summaries) == {"Short note", "Long essay", "Typed teaser"}

    def more(title: str) -> list:
        return list(with_class(summaries[title], "more"))

    assert more("Short note") == []  # shown whole: nothing more to read
    assert "That is all." in text(summaries["Short note"])
    assert len(more("Long essay")) == 1  # cut
    assert len(more("Typed teaser")) == 1  # the author's teaser stands for the post
    assert more("Typed teaser")[0].get("href").endswith("/typed-teaser/")


# --- avatars --------------------------------------------------------------------------------


def test_identicons_are_deterministic_symmetric_and_differ_by_email() -> None:
    ada, bob = avatar_hash("ada@example.org"), avatar_hash("bob@example.org")
    assert avatars.identicon(ada, 48) == avatars.identicon(ada, 48)
    assert avatars.identicon(ada, 48) != avatars.identicon(bob, 48)
    shapes = {avatars.identicon(avatar_hash(f"user{n}@example.org"), 48) for n in range(50)}
    assert len(shapes) == 50
    for n in range(50):
        digest = avatars.hashlib.sha256(avatar_hash(f"u{n}@x.org").encode()).digest()
        cells = set(avatars._cells(digest))
        assert cells and cells == {(4 - c, r) for c, r in cells}  # mirrored left to right
        assert all(0 <= c < 5 and 0 <= r < 5 for c, r in cells)


def test_local_avatars_are_markup_the_csp_allows_and_hidden_from_screen_readers() -> None:
    for svg in (
        avatars.local_avatar(avatar_hash("ada@example.org"), "Ada", 48),
        avatars.local_avatar("", "Ada Lovelace", 48),
    ):
        assert svg.startswith("<svg ") and svg.endswith("</svg>")
        assert "style=" not in svg and "<script" not in svg and "href" not in svg
        assert 'aria-hidden="true"' in svg
        assert 'width="48" height="48"' in svg
    assert ">AL</text>" in avatars.local_avatar("", "Ada Lovelace", 48)
    assert ">?</text>" in avatars.local_avatar("", "  ", 48)
    hostile = avatars.local_avatar("", "<b>x</b> <script>", 48)
    assert "<b>" not in hostile and "<script" not in hostile and ">&lt;&lt;</text>" not in hostile


@pytest.fixture
def discussed(app: Flask, admin: str) -> tuple[int, str, int, int]:
    """A post with a comment with an email and one without."""
    post_id, path = create_post(app, admin, title="Talk")
    with_email = add_comment(app, post_id, "With an email", email="ada@example.org", author="Ada")
    without = add_comment(app, post_id, "Without", email="", author="Grace Hopper")
    return post_id, path, with_email, without


def test_gravatar_by_default_but_never_for_an_empty_email(app: Flask, client, discussed) -> None:
    _, path, with_email, without = discussed
    root = page(client.get(path))
    ada = by_id(root, f"comment-{with_email}")
    assert "www.gravatar.com/avatar/" in next(iter(ada.iter("img"))).get("src")
    grace = by_id(root, f"comment-{without}")
    assert list(grace.iter("img")) == []
    with app.app_context():
        html = db.session.get(Comment, without).fragment_html
    assert avatars.initials_avatar("Grace Hopper", 48) in html and ">GH</text>" in html
    assert read(client, path).count("gravatar.com/avatar/") == 1
    assert "https://www.gravatar.com" in img_src(client.get(path))


def test_switching_to_local_avatars(app: Flask, client, admin_client, discussed) -> None:
    _, path, with_email, without = discussed
    reader = app.test_client()
    before = stored_read(app, reader, path)
    assert "gravatar.com" in before
    with app.app_context():
        keys_before = {db.session.get(Comment, i).fragment_key for i in (with_email, without)}

    response = admin_client.post(
        "/admin/settings/discussion", data=discussion_form(avatar_source="local")
    )
    assert response.status_code == 303
    with app.app_context():
        assert settings_service.discussion_settings().avatar_source == "local"
        for comment_id in (with_email, without):
            comment = db.session.get(Comment, comment_id)
            assert comment.fragment_key not in keys_before  # rendered again on the switch
            assert comment.fragment_key.split("|")[3] == "local"
            assert "gravatar" not in comment.fragment_html
            assert 'class="avatar avatar-local"' in comment.fragment_html

    hits = cache_hits(app)
    after = reader.get(path)
    assert cache_hits(app) == hits  # the cached page was stale: rendered again
    body = after.get_data(as_text=True)
    assert "gravatar" not in body.lower()
    assert body.count('class="avatar avatar-local"') == 2
    assert img_src(after) == ["'self'", "data:", "https:"]
    # The same identicon as the comment's email always gives.
    expected = avatars.identicon(avatar_hash("ada@example.org"), 48)
    assert expected in body
    # Anything cached since carries the same policy.
    cached = reader.get(path)
    assert "gravatar" not in cached.headers["Content-Security-Policy"]
    for listing in ("/", "/archives/", "/feed/"):
        assert "gravatar" not in reader.get(listing).get_data(as_text=True).lower()

    set_discussion(app, avatar_source="gravatar")
    back = reader.get(path)
    assert back.get_data(as_text=True).count("gravatar.com/avatar/") == 1
    assert "https://www.gravatar.com" in img_src(back)


def test_no_avatars_no_gravatar_in_the_policy(app: Flask, client, discussed) -> None:
    set_discussion(app, show_avatars=False)
    response = client.get(discussed[1])
    assert "gravatar" not in response.get_data(as_text=True).lower()
    assert "https://www.gravatar.com" not in img_src(response)


def test_a_new_comment_gets_a_local_avatar(app: Flask, client, discussed) -> None:
    from comment_helpers import comment_id_from, post_comment

    set_discussion(app, avatar_source="local", comment_previously_approved=False)
    comment_id = comment_id_from(post_comment(client, discussed[1], email="new@example.org"))
    with app.app_context():
        html = db.session.get(Comment, comment_id).fragment_html
    assert avatars.identicon(avatar_hash("new@example.org"), 48) in html


def test_an_avatar_source_that_is_not_offered_is_refused(app: Flask, admin_client) -> None:
    response = admin_client.post(
        "/admin/settings/discussion", data=discussion_form(avatar_source="https://evil.example")
    )
    assert response.status_code == 400
    with app.app_context():
        assert settings_service.discussion_settings().avatar_source == "gravatar"


# --- the policy's image sites ---------------------------------------------------------------


def test_image_hosts_are_the_only_other_sites_images_may_come_from(
    app: Flask, client, admin_client
) -> None:
    assert img_src(client.get("/")) == ["'self'", "data:", "https://www.gravatar.com", "https:"]
    data = {
        "site_name": "My Blog",
        "site_description": "",
        "timezone": "UTC",
        "posts_per_page": "10",
        "language": "",
        "image_hosts": "https://images.example.com/\n\nhttps://*.cdn.example.net:8443",
    }
    assert admin_client.post("/admin/settings", data=data).status_code == 303
    assert img_src(client.get("/")) == [
        "'self'",
        "data:",
        "https://www.gravatar.com",
        "https://images.example.com",
        "https://*.cdn.example.net:8443",
    ]
    set_discussion(app, avatar_source="local")
    assert admin_client.post("/admin/settings", data={**data, "image_hosts": ""}).status_code == 303
    assert img_src(client.get("/")) == ["'self'", "data:"]


@pytest.mark.parametrize(
    "hostile",
    [
        "https://x.example; script-src *",
        "https://x.example 'unsafe-inline'",
        "*",
        "http://plain.example",
        "data:",
        "https://x.example/path",
        "https://x.example\r\nscript-src *",
        "javascript:alert(1)",
    ],
)
def test_image_hosts_cannot_bend_the_policy(app: Flask, client, admin_client, hostile) -> None:
    data = {
        "site_name": "My Blog",
        "site_description": "",
        "timezone": "UTC",
        "posts_per_page": "10",
        "language": "",
        "image_hosts": hostile,
    }
    refused = admin_client.post("/admin/settings", data=data)
    assert refused.status_code == 400
    body = refused.get_data(as_text=True)
    assert "is not a site address" in body
    policy = client.get("/").headers["Content-Security-Policy"]
    assert "unsafe" not in policy and "script-src 'self'" in policy and "*" not in policy


def test_too_many_image_hosts_are_refused(app: Flask) -> None:
    hosts = "\n".join(f"https://img{n}.example.com" for n in range(21))
    with app.app_context(), pytest.raises(ServiceError, match="the limit is 20"):
        settings_service.save_site("My Blog", "", "UTC", 10, image_hosts=hosts)


def test_the_policy_costs_no_query_where_it_governs_nothing(app: Flask, client) -> None:
    from conftest import count_statements

    assert count_statements(app, client, "/static/style.css") == 0
    response = client.get("/static/style.css")
    assert img_src(response) == ["'self'", "data:"]
    assert img_src(client.get("/api/v1/posts")) == ["'self'", "data:"]


def test_the_avatar_source_is_checked_on_save(app: Flask) -> None:
    from blog.moderation import DiscussionSettings

    assert DiscussionSettings(avatar_source="local").validate() == []
    assert DiscussionSettings(avatar_source="elsewhere").validate()
    with app.app_context(), pytest.raises(ServiceError, match="avatar source"):
        settings_service.save_discussion(DiscussionSettings(avatar_source="elsewhere"), "b")


def test_a_general_form_without_the_new_fields_keeps_them(app: Flask, admin_client) -> None:
    with app.app_context():
        settings_service.save_site(
            "My Blog", "", "UTC", 10, language="nl_NL", image_hosts="https://img.example.com"
        )
    old_form = {"site_name": "Renamed", "site_description": "", "timezone": "UTC"}
    response = admin_client.post("/admin/settings", data={**old_form, "posts_per_page": "10"})
    assert response.status_code == 303
    with app.app_context():
        site = settings_service.site_settings()
        assert (site.name, site.language, site.image_hosts) == (
            "Renamed",
            "nl_NL",
            ("https://img.example.com",),
        )


def test_feeds_name_the_site_language(app: Flask, client) -> None:
    assert 'xml:lang="en"' in client.get("/feed/").get_data(as_text=True)
    set_language(app, "pt_BR")
    assert 'xml:lang="pt-BR"' in client.get("/feed/").get_data(as_text=True)
