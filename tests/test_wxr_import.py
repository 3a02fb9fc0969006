"""`flask wxr import`: the real exports in ../shared/wxr/, hostile files, all-or-nothing.

The expected counts are what each file holds (SOURCES.md beside them), with this blog's
one documented difference: a password-protected post comes in private.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from blog.extensions import db
from blog.models import (
    Category,
    Comment,
    ImportedItem,
    LegacyLink,
    Media,
    Post,
    PostStatus,
    PostType,
    Tag,
    User,
)
from blog.templating import post_path
from tests.conftest import create_user


def _samples() -> Path:
    """WordPress's own exports: ../shared/wxr beside the project, or WXR_SAMPLES."""
    for candidate in (
        os.environ.get("WXR_SAMPLES", ""),
        Path(__file__).resolve().parents[2] / "shared" / "wxr",
        "/work/shared/wxr",
    ):
        if candidate and (Path(candidate) / "themeunittestdata.wordpress.xml").exists():
            return Path(candidate)
    return Path("/nonexistent")


WXR = _samples()
THEME = WXR / "themeunittestdata.wordpress.xml"
SMALL = WXR / "small-export.xml"
V10 = WXR / "valid-wxr-1.0.xml"

#: Only the tests that read WordPress's own exports need them; the rest build their files.
needs_samples = pytest.mark.skipif(
    not THEME.exists(), reason="WordPress's exports (../shared/wxr or WXR_SAMPLES) not found"
)


def _import(runner, *args: str):
    return runner.invoke(args=["wxr", "import", *map(str, args)])


def _census(app) -> dict:
    with app.app_context():
        posts = Counter(
            (t.value, s.value) for t, s in db.session.execute(select(Post.type, Post.status)).all()
        )
        comments = Counter(
            (s.value if hasattr(s, "value") else s, k)
            for s, k in db.session.execute(select(Comment.status, Comment.type)).all()
        )
        return {
            "posts": posts,
            "comments": comments,
            "categories": db.session.scalar(select(func.count()).select_from(Category)),
            "parents": db.session.scalar(
                select(func.count()).select_from(Category).where(Category.parent_id.is_not(None))
            ),
            "tags": db.session.scalar(select(func.count()).select_from(Tag)),
            "media": db.session.scalar(select(func.count()).select_from(Media)),
            "users": db.session.scalar(select(func.count()).select_from(User)),
            "links": db.session.scalar(select(func.count()).select_from(LegacyLink)),
            "map": db.session.scalar(select(func.count()).select_from(ImportedItem)),
        }


def _depth(comment: Comment) -> int:
    depth = 1
    while comment.parent is not None:
        comment, depth = comment.parent, depth + 1
    return depth


@needs_samples
def test_theme_unit_test_data_imports_with_every_count_exact(app, runner):
    result = _import(runner, THEME)
    assert result.exit_code == 0, result.output
    census = _census(app)
    assert census["posts"] == {
        ("post", "published"): 55,
        ("post", "private"): 1,  # the password-protected one
        ("post", "draft"): 1,
        ("post", "scheduled"): 1,
        ("page", "published"): 21,
    }
    assert census["comments"] == {
        ("approved", "comment"): 26,
        ("pending", "comment"): 3,
        ("approved", "pingback"): 2,
        ("approved", "trackback"): 2,
    }
    # 68 declared categories (one slug twice), 110 declared tags and 4 that items name
    # without declaring them.
    assert (census["categories"], census["parents"], census["tags"]) == (68, 10, 114)
    assert census["media"] == 37
    assert census["users"] == 2
    assert "password-protected: imported as private" in result.output
    assert "skipped 70: items of type nav_menu_item" in result.output
    with app.app_context():
        deepest = max(_depth(c) for c in db.session.scalars(select(Comment)))
        assert deepest == 10
        # The approved counts kept on the posts add up to the approved comments.
        counted = db.session.scalar(select(func.sum(Post.comment_count)))
        assert counted == 30
        # Non-ASCII text arrives intact.
        names = set(db.session.scalars(select(Tag.name).where(Tag.name.like("%περιεχόμενο%"))))
        assert "content περιεχόμενο" in names


@needs_samples
def test_importing_the_same_file_again_changes_no_count(app, runner):
    assert _import(runner, THEME).exit_code == 0
    before = _census(app)
    again = _import(runner, THEME)
    assert again.exit_code == 0, again.output
    assert "already imported before" in again.output
    assert _census(app) == before


@needs_samples
@pytest.mark.parametrize(
    ("path", "posts", "comments"),
    [
        (
            SMALL,
            {
                ("post", "published"): 5,
                ("post", "private"): 1,
                ("page", "published"): 4,
                ("page", "draft"): 1,
            },
            1,
        ),
        (V10, {("post", "published"): 3, ("page", "published"): 3}, 1),
    ],
)
def test_older_wxr_versions_import(app, runner, path, posts, comments):
    result = _import(runner, path)
    assert result.exit_code == 0, result.output
    census = _census(app)
    assert census["posts"] == posts
    assert sum(census["comments"].values()) == comments


@needs_samples
def test_two_sites_at_the_same_address_do_not_collide(app, runner):
    # Both files come from http://localhost/ with overlapping ids: distinct sites.
    assert _import(runner, SMALL).exit_code == 0
    assert _import(runner, V10).exit_code == 0
    assert sum(_census(app)["posts"].values()) == 11 + 6


@needs_samples
def test_old_links_answer_301_to_the_new_address(app, runner, client):
    assert _import(runner, THEME).exit_code == 0
    with app.app_context(), app.test_request_context():
        post = db.session.scalar(select(Post).where(Post.slug == "markup-html-tags-and-formatting"))
        target = post_path(post)
        wordpress_id = db.session.scalar(
            select(ImportedItem.source_id).where(
                ImportedItem.kind == "post", ImportedItem.local_id == post.id
            )
        )
        draft = db.session.scalar(select(Post).where(Post.status == PostStatus.DRAFT))
        draft_id = db.session.scalar(
            select(ImportedItem.source_id).where(
                ImportedItem.local_id == draft.id, ImportedItem.kind == "post"
            )
        )
        page = db.session.scalar(
            select(Post).where(Post.type == PostType.PAGE, Post.slug == "about")
        )
        page_id = db.session.scalar(
            select(ImportedItem.source_id).where(
                ImportedItem.local_id == page.id, ImportedItem.kind == "post"
            )
        )
        page_target = post_path(page)
    old = client.get("/2013/01/11/markup-html-tags-and-formatting/")
    assert old.status_code == 301
    assert old.headers["Location"].endswith(target)
    assert client.get("/2013/01/11/markup-html-tags-and-formatting").status_code in (301, 308)
    by_id = client.get(f"/?p={wordpress_id}")
    assert by_id.status_code == 301 and by_id.headers["Location"].endswith(target)
    by_page_id = client.get(f"/?page_id={page_id}")
    assert by_page_id.status_code == 301 and by_page_id.headers["Location"].endswith(page_target)
    assert client.get(target).status_code == 200
    # A draft stays hidden behind its old id; an unknown id and a non-number are 404s.
    assert client.get(f"/?p={draft_id}").status_code == 404
    assert client.get("/?p=999999999").status_code == 404
    assert client.get("/?p=x").status_code == 404
    assert client.get("/2099/01/01/no-such-thing/").status_code == 404


@needs_samples
def test_author_map_and_dry_run(app, runner):
    create_user(app, "editor1", role="editor")
    dry = _import(runner, SMALL, "--dry-run", "--author-map", "admin=editor1")
    assert dry.exit_code == 0, dry.output
    assert "Would import" in dry.output and "Dry run: nothing was stored." in dry.output
    assert _census(app)["posts"] == {}
    assert _census(app)["map"] == 0
    real = _import(runner, SMALL, "--author-map", "admin=editor1")
    assert real.exit_code == 0, real.output
    with app.app_context():
        owners = {u.username for u in db.session.scalars(select(User).join(Post).distinct())}
        assert "admin" not in owners and "editor1" in owners
        created = db.session.scalar(select(User).where(User.username == "editor"))
        assert created.role.value == "author" and created.password_hash.startswith("!")
    bad = _import(runner, SMALL, "--author-map", "admin=nobody")
    assert bad.exit_code != 0 and "there is no user 'nobody'" in bad.output


def _wxr(items: str, head: str = "", channel: str = "") -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
{head}<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
  xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:wp="http://wordpress.org/export/1.2/"
  xmlns:excerpt="http://wordpress.org/export/1.2/excerpt/">
<channel><title>T</title><link>https://old.example</link>
<wp:wxr_version>1.2</wp:wxr_version><wp:base_blog_url>https://old.example</wp:base_blog_url>
{channel}{items}</channel></rss>"""


def _item(
    content: str = "Body", comment: str = "A comment", post_id: int = 10, extra: str = ""
) -> str:
    return f"""<item><title>Hello</title><link>https://old.example/2020/01/02/hello/</link>
<dc:creator>writer</dc:creator><content:encoded><![CDATA[{content}]]></content:encoded>
<wp:post_id>{post_id}</wp:post_id><wp:post_date>2020-01-02 10:00:00</wp:post_date>
<wp:post_date_gmt>0000-00-00 00:00:00</wp:post_date_gmt><wp:post_name>hello</wp:post_name>
<wp:status>publish</wp:status><wp:post_type>post</wp:post_type>{extra}
<wp:comment><wp:comment_id>5</wp:comment_id><wp:comment_author>R</wp:comment_author>
<wp:comment_date_gmt>2020-01-03 10:00:00</wp:comment_date_gmt>
<wp:comment_content><![CDATA[{comment}]]></wp:comment_content>
<wp:comment_approved>1</wp:comment_approved><wp:comment_parent>0</wp:comment_parent></wp:comment>
</item>"""


HOSTILE = {
    "billion laughs": _wxr(
        "<item><title>&lol9;</title></item>",
        head='<!DOCTYPE rss [<!ENTITY lol "lol">'
        + "".join(
            f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">'
            for n in range(1, 10)
        )
        + "]>\n",
    ),
    "quadratic blow-up": _wxr(
        "<item><title>" + "&a;" * 20000 + "</title></item>",
        head='<!DOCTYPE rss [<!ENTITY a "' + "x" * 50000 + '">]>\n',
    ),
    "XXE to a file": _wxr(
        "<item><title>&x;</title></item>",
        head='<!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n',
    ),
    "XXE to a URL": _wxr(
        "<item><title>&x;</title></item>",
        head='<!DOCTYPE rss [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]>\n',
    ),
    "a DTD": _wxr(_item(), head='<!DOCTYPE rss SYSTEM "http://127.0.0.1:9/rss.dtd">\n'),
    "an undeclared entity": _wxr(_item().replace("<title>Hello", "<title>&x;Hello")),
    "truncated XML": _wxr(_item())[:-300],
    "the wrong root": '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"></feed>',
    "not XML at all": "PK\x03\x04 this is a zip file",
    "a comment over its limit": _wxr(_item(comment="x" * 65_526)),
    "a control character in a comment": _wxr(_item(comment="bad \x1b[31m escape")),
}


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_files_are_refused_fast_with_nothing_imported(app, runner, tmp_path, kind):
    path = tmp_path / "export.xml"
    path.write_text(HOSTILE[kind], encoding="utf-8")
    started = time.perf_counter()
    result = _import(runner, path)
    assert time.perf_counter() - started < 5  # bounded: no expansion, no network
    assert result.exit_code != 0, result.output
    assert "Nothing was imported" in result.output
    census = _census(app)
    assert census["posts"] == {} and census["users"] == 0 and census["map"] == 0
    assert "root:" not in result.output  # /etc/passwd never read into anything
    if "limit" in kind:
        assert "line " in result.output and "comment 5" in result.output
        assert "nothing was cut" in result.output.lower()


def test_a_huge_file_is_refused_by_its_size_before_reading(app, runner, tmp_path):
    path = tmp_path / "huge.xml"
    with path.open("wb") as handle:
        handle.truncate(1 << 30)  # sparse: 1 GB that takes no disk
    result = _import(runner, path)
    assert result.exit_code != 0
    assert "the limit (WXR_MAX_BYTES)" in result.output


def test_imported_content_goes_through_the_sanitizers(app, runner, tmp_path):
    body = (
        '<!-- wp:paragraph -->\n<p>Safe <img src="https://old.example/a.png" onerror="alert(1)">'
        '<script>alert(2)</script><a href="javascript:alert(3)">x</a></p>\n<!-- /wp:paragraph -->'
        '\n\n[gallery ids="1,2"]\n\nSecond paragraph'
    )
    comment = '<b>hi</b> <img src=x onerror=alert(4)> <a href="javascript:alert(5)">y</a>'
    path = tmp_path / "export.xml"
    path.write_text(
        _wxr(_item(content=body, comment=comment, extra="<wp:is_sticky>1</wp:is_sticky>")),
        encoding="utf-8",
    )
    result = _import(runner, path)
    assert result.exit_code == 0, result.output
    with app.app_context():
        post = db.session.scalar(select(Post))
        assert post.body == body  # the text as it came, kept to edit
        for bad in ("onerror", "<script", "javascript:", "wp:paragraph"):
            assert bad not in post.body_html
        assert '[gallery ids="1,2"]' in post.body_html  # a shortcode is left as its text
        assert "<p>Second paragraph</p>" in post.body_html
        assert post.sticky is True
        # The GMT date was WordPress's zero date: the local one is read in the site's zone.
        assert post.published_at.year == 2020
        stored = db.session.scalar(select(Comment))
        assert stored.content == comment
        assert "<b>hi</b>" in stored.content_html
        for bad in ("onerror", "<img", "javascript:"):
            assert bad not in stored.content_html


def test_a_reply_whose_parent_is_missing_becomes_top_level_and_is_reported(app, runner, tmp_path):
    item = _item().replace(
        "<wp:comment_parent>0</wp:comment_parent>", "<wp:comment_parent>77</wp:comment_parent>"
    )
    path = tmp_path / "export.xml"
    path.write_text(_wxr(item), encoding="utf-8")
    result = _import(runner, path)
    assert result.exit_code == 0, result.output
    assert "answers comment 77, which is not in the file" in result.output
    with app.app_context():
        assert db.session.scalar(select(Comment)).parent_id is None


def test_wordpress_com_exports_with_an_undeclared_atom_prefix(app, runner, tmp_path):
    path = tmp_path / "export.xml"
    path.write_text(
        _wxr(_item(), channel='<atom:link rel="search" href="https://old.example/osd.xml"/>'),
        encoding="utf-8",
    )
    result = _import(runner, path)
    assert result.exit_code == 0, result.output
    assert _census(app)["posts"] == {("post", "published"): 1}


def test_an_imported_post_edits_and_previews_as_html(app, runner, tmp_path):
    from tests.conftest import login

    path = tmp_path / "export.xml"
    path.write_text(_wxr(_item(content="*not emphasis*\n\n<b>bold</b>")), encoding="utf-8")
    assert _import(runner, path).exit_code == 0
    create_user(app, "boss", role="admin")
    with app.app_context():
        post = db.session.scalar(select(Post))
        post_id, title = post.id, post.title
        assert post.body_html == "<p>*not emphasis*</p><p><b>bold</b></p>"
    client = app.test_client()
    login(client, "boss")
    page = client.get(f"/admin/posts/{post_id}/edit")
    assert b'name="body_format" value="html"' in page.data
    preview = client.post("/admin/preview", data={"body": "*x*", "body_format": "html"})
    assert preview.get_data(as_text=True) == "<p>*x*</p>"
    markdown = client.post("/admin/preview", data={"body": "*x*"})
    assert "<em>x</em>" in markdown.get_data(as_text=True)
    saved = client.post(
        f"/admin/posts/{post_id}/edit",
        data={"title": title, "body": "*still not*\n\nsecond", "action": "update"},
    )
    assert saved.status_code in (302, 303), saved.data[:500]
    with app.app_context():
        post = db.session.get(Post, post_id)
        assert post.body_html == "<p>*still not*</p><p>second</p>"


def test_imported_pending_and_private_posts_have_their_tabs_in_the_admin(app, runner, tmp_path):
    from tests.conftest import login

    items = _item(post_id=10).replace("<wp:status>publish", "<wp:status>private") + _item(
        post_id=11
    ).replace("<wp:status>publish", "<wp:status>pending").replace(
        "<wp:comment_id>5<", "<wp:comment_id>6<"
    ).replace("<wp:post_name>hello<", "<wp:post_name>hello-again<")
    path = tmp_path / "export.xml"
    path.write_text(_wxr(items), encoding="utf-8")
    result = _import(runner, path)
    assert result.exit_code == 0, result.output
    create_user(app, "boss", role="admin")
    client = app.test_client()
    login(client, "boss")
    page = client.get("/admin/posts").get_data(as_text=True)
    assert "Private (1)" in page and "Pending (1)" in page
    assert "Private (1)" in client.get("/admin/posts?status=private").get_data(as_text=True)
    # A reader sees neither.
    reader = app.test_client()
    with app.app_context(), app.test_request_context():
        paths = [post_path(p) for p in db.session.scalars(select(Post))]
    assert all(reader.get(p).status_code == 404 for p in paths)


@pytest.mark.parametrize(
    ("meta", "slug"),
    [
        ("", "hello"),  # hello__trashed, as WordPress renames a trashed post
        (
            "<wp:postmeta><wp:meta_key>_wp_desired_post_slug</wp:meta_key>"
            "<wp:meta_value>hello-again</wp:meta_value></wp:postmeta>",
            "hello-again",
        ),
    ],
)
def test_a_trashed_post_gets_its_slug_back(app, runner, tmp_path, meta, slug):
    item = (
        _item(extra=meta)
        .replace(
            "<wp:post_name>hello</wp:post_name>", "<wp:post_name>hello__trashed</wp:post_name>"
        )
        .replace("<wp:status>publish</wp:status>", "<wp:status>trash</wp:status>")
    )
    path = tmp_path / "export.xml"
    path.write_text(_wxr(item), encoding="utf-8")
    result = _import(runner, path)
    assert result.exit_code == 0, result.output
    with app.app_context():
        post = db.session.scalar(select(Post))
        assert (post.status, post.slug) == (PostStatus.TRASH, slug)
