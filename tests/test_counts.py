"""The counts kept beside the comments (per post and per status) always equal a real count.

They replace counting the comments table on every queue visit and list page, so every way
a comment moves must keep them: posting, each moderation action, bulk actions, undo,
deleting for good, replying from the queue.
"""

from __future__ import annotations

import random

import pytest
from comment_helpers import add_comment, comment_data, set_discussion
from conftest import create_post
from flask import Flask
from sqlalchemy import func, select

from blog.extensions import db
from blog.models import Comment, CommentTally, Post
from blog.moderation import CommentStatus

COLUMNS = {
    CommentStatus.APPROVED: "comment_count",
    CommentStatus.PENDING: "pending_count",
    CommentStatus.SPAM: "spam_count",
    CommentStatus.TRASH: "trash_count",
}


def assert_counts_are_true(app: Flask) -> None:
    with app.app_context():
        real = dict(
            db.session.execute(select(Comment.status, func.count()).group_by(Comment.status)).all()
        )
        kept = dict(db.session.execute(select(CommentTally.status, CommentTally.count)).all())
        for status in CommentStatus:
            assert kept.get(status, 0) == real.get(status, 0), status
        for post in db.session.scalars(select(Post)):
            for status, column in COLUMNS.items():
                actual = db.session.scalar(
                    select(func.count()).where(Comment.post_id == post.id, Comment.status == status)
                )
                assert getattr(post, column) == actual, (post.id, status)


@pytest.mark.parametrize("seed", range(3))
def test_every_move_keeps_the_counts(app: Flask, admin_client, admin: str, seed: int) -> None:
    rng = random.Random(seed)
    set_discussion(app, comment_previously_approved=True)
    posts = [create_post(app, admin, title=f"Post {n}") for n in range(2)]
    ids = []
    for n in range(6):
        post_id, path = rng.choice(posts)
        status = rng.choice(list(CommentStatus))
        ids.append(add_comment(app, post_id, f"Stored {n}", status=status))
        response = app.test_client().post(
            path, data=comment_data(comment=f"Posted {n}", email=f"p{n}@example.org")
        )
        ids.append(int(response.headers["Location"].rsplit("-", 1)[1]))
    assert_counts_are_true(app)
    actions = ["approve", "unapprove", "spam", "unspam", "trash", "restore"]
    for step in range(40):
        action = rng.choice(actions)
        chosen = rng.sample(ids, rng.randint(1, 3))
        admin_client.post("/admin/comments/action", data={"action": action, "ids": chosen})
        if step % 7 == 3:
            admin_client.post(f"/admin/comments/{rng.choice(ids)}/undo")
        if step % 11 == 5:
            admin_client.post(
                f"/admin/comments/{rng.choice(ids)}/reply", data={"reply": f"Reply {step}"}
            )
        assert_counts_are_true(app)
    gone = ids.pop(rng.randrange(len(ids)))
    admin_client.post("/admin/comments/action", data={"action": "delete", "ids": gone})
    assert_counts_are_true(app)


def test_a_post_deleted_with_its_comments_leaves_the_tallies_true(app: Flask, admin: str) -> None:
    post_id, _ = create_post(app, admin, title="Doomed")
    add_comment(app, post_id, "Held.", status=CommentStatus.PENDING)
    with app.app_context():
        db.session.delete(db.session.get(Post, post_id))
        db.session.commit()
    assert_counts_are_true(app)
