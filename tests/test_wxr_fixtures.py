"""The importer on exports of our own (tests/wxr_fixtures.py): WordPress.com's flavour,
non-ASCII everywhere, and 20,000 comments in threads ten deep. Counts exact, threads kept,
old links redirected, and each one round-trips through `wxr export`."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select

from blog.extensions import db
from blog.models import Category, Comment, Media, Post, PostStatus, Tag, User
from tests.test_wxr_export import _round_trip
from tests.wxr_fixtures import NON_ASCII, WORDPRESS_COM, write_large


def _import(runner, path):
    result = runner.invoke(args=["wxr", "import", str(path)])
    assert result.exit_code == 0, result.output
    return result.output


def _comments(app) -> Counter:
    with app.app_context():
        return Counter(
            (status.value, kind)
            for status, kind in db.session.execute(select(Comment.status, Comment.type))
        )


def _depth(comment: Comment) -> int:
    depth = 1
    while comment.parent is not None:
        comment, depth = comment.parent, depth + 1
    return depth


def test_a_wordpress_com_export(app, runner, client):
    output = _import(runner, WORDPRESS_COM)
    assert "skipped 1: auto-drafts" in output
    assert "skipped 1: items of type feedback" in output
    assert "skipped 1: items of type nav_menu_item" in output
    assert "skipped 1: terms of taxonomy nav_menu" in output
    assert "answers comment 399, which is not in the file" in output
    with app.app_context():
        posts = Counter(
            (t.value, s.value) for t, s in db.session.execute(select(Post.type, Post.status))
        )
        assert posts == {("post", "published"): 2, ("post", "draft"): 1, ("page", "published"): 1}
        transom = db.session.scalar(select(Post).where(Post.slug == "stripping-the-transom"))
        assert transom.sticky and transom.comments_open
        herons = db.session.scalar(select(Post).where(Post.slug == "herons-at-low-water"))
        assert not herons.comments_open
        assert herons.excerpt == "Three herons and a fourth."
        # Blocks keep their HTML, the comments of blocks go, shortcodes stay as text.
        assert "<em>ribbons</em>" in transom.body_html
        assert "wp:paragraph" not in transom.body_html
        assert "[gallery ids=" in transom.body_html
        draft = db.session.scalar(select(Post).where(Post.status == PostStatus.DRAFT))
        assert draft.published_at is None and draft.title == "Winter haul-out checklist"
        restoration = db.session.scalar(select(Category).where(Category.slug == "restoration"))
        assert restoration.parent.slug == "boats"
        assert db.session.scalar(select(Tag.description).where(Tag.slug == "varnish")) == (
            "Seven coats, sanded between."
        )
        media = db.session.scalars(select(Media)).one()
        assert media.post_id == transom.id
        assert media.original_url.endswith("/2023/06/transom.jpg")
        assert {u.username for u in db.session.scalars(select(User))} == {
            "harbourmaster",
            "birdwatcher77",
        }
        reply = db.session.scalar(select(Comment).where(Comment.author == "Hal Marsh"))
        assert reply.parent.author == "Gull Island Boatworks"
        first = reply.parent
        assert "onclick" not in first.content_html and 'rel="nofollow ugc"' in first.content_html
        assert transom.comment_count == 3  # 301, 302 and the pingback
    assert _comments(app) == {
        ("approved", "comment"): 3,
        ("approved", "pingback"): 1,
        ("pending", "comment"): 1,
        ("spam", "comment"): 1,
        ("trash", "comment"): 2,  # trash and post-trashed
    }
    # Old links: the permalink's path, and ?p= / ?page_id=.
    moved = client.get("/2023/06/11/stripping-the-transom/")
    assert moved.status_code == 301 and moved.headers["Location"].endswith(
        "/stripping-the-transom/"
    )
    assert client.get("/?page_id=2").headers["Location"].endswith("/about/")


def test_non_ascii_everywhere(app, runner, client):
    _import(runner, NON_ASCII)
    with app.app_context():
        posts = {p.title: p for p in db.session.scalars(select(Post))}
        assert set(posts) == {"Привет из Транссиба", "東京から京都へ", "Обо мне"}
        trans = posts["Привет из Транссиба"]
        assert trans.slug == "привет-из-транссиба"
        assert trans.author.display_name == "Ольга Смирнова"
        # No GMT date: the local one, read in the site's time zone (UTC here).
        assert posts["東京から京都へ"].published_at.isoformat() == "2024-02-22T09:00:00+00:00"
        shinkansen = db.session.scalar(select(Category).where(Category.name == "新幹線"))
        assert shinkansen.slug == "新幹線" and shinkansen.parent.name == "Поезда"
        assert {t.name for t in db.session.scalars(select(Tag))} == {"θάλασσα", "شاي", "Café"}
        comments = {c.author: c for c in db.session.scalars(select(Comment))}
        assert comments["مريم"].parent.author == "Ἀριστοτέλης"
        assert comments["Ольга Смирнова"].parent.author == "مريم"
        assert "🚂" in comments["Ἀριστοτέλης"].content_html
        assert comments["Ἀριστοτέλης"].url == "https://λύκειο.example/"
        assert comments["Ἀριστοτέλης"].ip == "2001:db8::7"
    assert _comments(app) == {("approved", "comment"): 3, ("pending", "comment"): 1}
    page = client.get("/2024/02/привет-из-транссиба/")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "الشاي في القطار" in body and "Ἀριστοτέλης" in body
    # The old, percent-encoded permalink lands on the post.
    old = client.get(
        "/2024/02/%d0%bf%d1%80%d0%b8%d0%b2%d0%b5%d1%82-%d0%b8%d0%b7-"
        "%d1%82%d1%80%d0%b0%d0%bd%d1%81%d1%81%d0%b8%d0%b1%d0%b0/"
    )
    assert old.status_code == 200  # the same address here: no redirect needed
    assert client.get("/%d0%be%d0%b1%d0%be-%d0%bc%d0%bd%d0%b5/").status_code == 200


@pytest.mark.parametrize("fixture", [WORDPRESS_COM, NON_ASCII], ids=lambda p: p.stem)
def test_our_fixtures_round_trip(app, runner, tmp_path, fixture):
    _import(runner, fixture)
    before, after, _ = _round_trip(app, runner, tmp_path)
    assert after == before


def test_twenty_thousand_comments_ten_deep(app, runner, tmp_path):
    path = tmp_path / "large.xml"
    holds = write_large(path, comments=20_000, posts=50, depth=10)
    output = _import(runner, path)
    assert "comments: 20000" in output
    assert _comments(app) == {(status, kind): n for (status, kind), n in holds.comments.items()}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Post)) == holds.posts
        approved = dict(db.session.execute(select(Post.title, Post.comment_count)).all())
        assert sum(approved.values()) == sum(holds.approved_per_post.values())
        deepest = max(
            _depth(c)
            for c in db.session.scalars(
                select(Comment).where(Comment.author.is_not(None)).limit(500)
            )
        )
        assert deepest == holds.deepest == 10
    # Again: nothing added.
    again = _import(runner, path)
    assert "already imported before, left as they are" in again
    assert sum(_comments(app).values()) == 20_000
