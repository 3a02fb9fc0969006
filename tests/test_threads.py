"""Reading a post's comments page by page from the database (blog.services.threads).

``blog.tree`` says what a page of threads holds (pure, tested on its own); the service reads
that page from the database through the kept thread ids, reading only its own rows. These
tests check that the two agree for random threads, before and after random moderation
(which moves replies between threads), and that a page's reads do not grow with the post.
"""

from __future__ import annotations

import random
import re

import pytest
from comment_helpers import add_comment, set_discussion
from conftest import create_post
from flask import Flask

from blog.extensions import db
from blog.models import Comment, Post
from blog.moderation import CommentStatus
from blog.services import comments as comment_service
from blog.services import threads
from blog.services.settings import discussion_settings
from blog.services.users import find_user
from blog.tree import build_tree, iter_flat, page_of, paginate_threads

STATUSES = [CommentStatus.APPROVED] * 3 + [CommentStatus.PENDING, CommentStatus.SPAM]


def shown_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<article id="comment-(\d+)"', html)]


def approved(post_id: int) -> list[Comment]:
    """Every approved comment of the post, oldest first (inside an app context)."""
    return list(
        db.session.scalars(
            db.select(Comment)
            .where(Comment.post_id == post_id, Comment.status == CommentStatus.APPROVED)
            .order_by(Comment.created_at, Comment.id)
        )
    )


def expected_pages(app: Flask, post_id: int, per_page: int) -> list[list[int]]:
    """Every comment page as blog.tree cuts it from all the approved comments."""
    with app.app_context():
        nodes = build_tree(approved(post_id), max_depth=discussion_settings().max_depth)
        count = max(1, -(-len(nodes) // per_page))
        return [
            [n.id for n in iter_flat(paginate_threads(nodes, per_page, number, False).nodes)]
            for number in range(1, count + 1)
        ]


def read_pages(app: Flask, post_id: int) -> list[list[int]]:
    with app.test_request_context():
        post = db.session.get(Post, post_id)
        settings = discussion_settings()
        first = threads.comment_page(post, settings, 1)
        return [
            shown_ids(threads.comment_page(post, settings, number).html)
            for number in range(1, first.count + 1)
        ]


def random_thread(app: Flask, post_id: int, rng: random.Random, size: int) -> list[int]:
    ids: list[int] = []
    for n in range(size):
        parent = rng.choice(ids) if ids and rng.random() < 0.6 else None
        ids.append(
            add_comment(app, post_id, f"Comment {n}", status=rng.choice(STATUSES), parent_id=parent)
        )
    return ids


@pytest.mark.parametrize("seed", range(4))
def test_sql_paging_agrees_with_the_tree_before_and_after_moderation(
    app: Flask, admin: str, seed: int
) -> None:
    rng = random.Random(seed)
    per_page = rng.randint(1, 4)
    set_discussion(
        app, page_comments=True, comments_per_page=per_page, default_comments_page="oldest"
    )
    post_id, _ = create_post(app, admin, title="Threads")
    ids = random_thread(app, post_id, rng, 25)
    assert read_pages(app, post_id) == expected_pages(app, post_id, per_page)
    with app.app_context():
        for _ in range(15):
            comment = db.session.get(Comment, rng.choice(ids))
            comment_service.set_status(comment, rng.choice(list(CommentStatus)), None, "test")
            db.session.commit()
    assert read_pages(app, post_id) == expected_pages(app, post_id, per_page)
    with app.app_context():
        actor = find_user(admin)
        comment_service.delete_permanently(db.session.get(Comment, ids[0]), actor)
    assert read_pages(app, post_id) == expected_pages(app, post_id, per_page)


def test_every_comment_links_to_the_page_it_is_on(app: Flask, admin: str) -> None:
    set_discussion(app, page_comments=True, comments_per_page=3, default_comments_page="oldest")
    post_id, _ = create_post(app, admin, title="Links")
    ids = random_thread(app, post_id, random.Random(7), 30)
    with app.app_context():
        nodes = build_tree(approved(post_id), max_depth=5)
        settings = discussion_settings()
        for comment_id in ids:
            comment = db.session.get(Comment, comment_id)
            if comment.status == CommentStatus.APPROVED:
                assert threads.page_of(comment, settings) == page_of(nodes, comment_id, 3)


def test_a_page_reads_only_its_own_rows(app: Flask, admin: str, monkeypatch) -> None:
    set_discussion(app, page_comments=True, comments_per_page=5)
    post_id, _ = create_post(app, admin, title="Long")
    for n in range(60):  # 60 threads of two comments
        top = add_comment(app, post_id, f"Top {n}")
        add_comment(app, post_id, f"Reply {n}", parent_id=top)
    read: list[int] = []
    original = threads._rows

    def counted(*args: object) -> list:
        rows = original(*args)
        read.append(len(rows))
        return rows

    monkeypatch.setattr(threads, "_rows", counted)
    with app.test_request_context():
        post = db.session.get(Post, post_id)
        for number in (1, 7, 12):
            read.clear()
            page = threads.comment_page(post, discussion_settings(), number)
            assert len(shown_ids(page.html)) == 10
            assert sum(read) == 10
        assert page.count == 12 and page.total == 120


def test_a_held_reply_is_shown_to_its_author_where_its_thread_is(app: Flask, admin: str) -> None:
    set_discussion(app, page_comments=True, comments_per_page=2, default_comments_page="oldest")
    post_id, _ = create_post(app, admin, title="Held")
    tops = [add_comment(app, post_id, f"Top {n}") for n in range(5)]
    held_reply = add_comment(
        app, post_id, "Held reply", status=CommentStatus.PENDING, parent_id=tops[0]
    )
    held_top = add_comment(app, post_id, "Held top", status=CommentStatus.PENDING)
    with app.test_request_context():
        post = db.session.get(Post, post_id)
        settings = discussion_settings()
        own = [held_reply, held_top]
        first = shown_ids(threads.comment_page(post, settings, 1, own).html)
        last = shown_ids(threads.comment_page(post, settings, 3, own).html)
        assert held_reply in first and held_top not in first
        assert held_top in last and held_reply not in last
        assert held_reply not in shown_ids(threads.comment_page(post, settings, 1).html)
        for comment_id, number in ((held_reply, 1), (held_top, 3)):
            assert threads.page_of(db.session.get(Comment, comment_id), settings) == number
