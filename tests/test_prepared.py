"""``sqlutil.Prepared``: a statement run on the driver's cursor gives what SQLAlchemy gives.

The hot paths (a post page, a comment POST) run their statements through ``Prepared``; each
must come back with the very values ``Connection.execute`` returns (enums, aware UTC times,
labels), fail with SQLAlchemy's exceptions, and stay visible to statement listeners.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import bindparam, func, select, type_coerce, update
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from blog.extensions import db
from blog.models import Comment, Post, PostStatus, User
from blog.moderation import CommentStatus
from blog.sqlutil import Prepared
from tests.conftest import create_post, create_user


@pytest.fixture
def post_id(app, admin) -> int:
    post_id, _ = create_post(app, admin, title="Prepared")
    return post_id


def _comment(post_id: int, status: CommentStatus, minutes: int) -> Comment:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC) + timedelta(minutes=minutes)
    return Comment(
        post_id=post_id,
        author=f"Reader {minutes}",
        email=f"r{minutes}@example.org",
        content=f"text {minutes}",
        content_html=f"<p>text {minutes}</p>",
        status=status,
        created_at=when,
        updated_at=when,
    )


STATEMENTS = {
    "typed columns": select(
        Comment.id, Comment.status, Comment.created_at, Comment.author, Comment.parent_id
    )
    .where(Comment.post_id == bindparam("post_id"))
    .order_by(Comment.id),
    "a literal compared with": select(Comment.id, Comment.created_at)
    .where(Comment.post_id == bindparam("post_id"), Comment.status == CommentStatus.APPROVED)
    .order_by(Comment.created_at.desc()),
    "coerced and labelled": select(
        type_coerce(Comment.status, sa.String).label("plain_status"),
        type_coerce(Comment.created_at, sa.String).label("created_key"),
    ).where(Comment.post_id == bindparam("post_id")),
    "a join": select(Post.id, Post.status, Post.published_at, User.username)
    .join(User, User.id == Post.author_id)
    .where(Post.id == bindparam("post_id")),
    "an aggregate": select(func.max(Comment.created_at)).where(
        Comment.post_id == bindparam("post_id")
    ),
    "a time bound": select(Comment.id).where(
        Comment.post_id == bindparam("post_id"), Comment.created_at > bindparam("after")
    ),
}


@pytest.mark.parametrize("name", sorted(STATEMENTS))
def test_rows_are_what_sqlalchemy_returns(app, post_id, name):
    statement = STATEMENTS[name]
    params = {"post_id": post_id}
    if name == "a time bound":
        params["after"] = datetime(2026, 1, 2, 3, 10, tzinfo=UTC)
    with app.app_context():
        for minutes, status in enumerate(
            [CommentStatus.APPROVED, CommentStatus.PENDING, CommentStatus.APPROVED] * 4
        ):
            db.session.add(_comment(post_id, status, minutes * 3))
        db.session.commit()
        connection = db.session.connection()
        expected = [tuple(row) for row in connection.execute(statement, params)]
        prepared = Prepared(statement)
        got = [tuple(row) for row in prepared.rows(connection, **params)]
        assert got == expected
        assert got, "the statement found nothing: the comparison would prove nothing"
        assert list(prepared.rows(connection, **params)[0]._fields) == list(
            statement.selected_columns.keys()
        )
        first = prepared.first(connection, **params)
        assert tuple(first) == expected[0]
        assert prepared.scalar(connection, **params) == expected[0][0]
        for row in got:
            for value in row:
                if isinstance(value, datetime):
                    assert value.tzinfo is not None, "times come back aware, as UTC"


def test_nothing_found(app, post_id):
    prepared = Prepared(STATEMENTS["typed columns"])
    with app.app_context():
        connection = db.session.connection()
        assert prepared.rows(connection, post_id=post_id + 1000) == []
        assert prepared.first(connection, post_id=post_id + 1000) is None
        assert prepared.scalar(connection, post_id=post_id + 1000) is None


def test_a_write_counts_its_rows_and_joins_the_transaction(app, post_id):
    bump = Prepared(
        update(Post)
        .where(Post.id == bindparam("b_id"))
        .values(pending_count=Post.pending_count + bindparam("b_by"))
    )
    with app.app_context():
        connection = db.session.connection()
        assert bump.execute(connection, b_id=post_id, b_by=3) == 1
        assert bump.execute(connection, b_id=post_id + 1000, b_by=3) == 0
        db.session.rollback()  # the write was part of the session's transaction
        assert db.session.get(Post, post_id).pending_count == 0
        assert bump.execute(db.session.connection(), b_id=post_id, b_by=2) == 1
        db.session.commit()
        db.session.expire_all()
        assert db.session.get(Post, post_id).pending_count == 2


def test_enums_and_times_are_bound_as_sqlalchemy_binds_them(app, post_id):
    """A status given as an enum and a time given aware match the stored values."""
    find = Prepared(
        select(Comment.id).where(
            Comment.status == bindparam("status"), Comment.created_at == bindparam("at")
        )
    )
    with app.app_context():
        comment = _comment(post_id, CommentStatus.SPAM, 7)
        db.session.add(comment)
        db.session.commit()
        connection = db.session.connection()
        assert find.scalar(connection, status=CommentStatus.SPAM, at=comment.created_at) == (
            comment.id
        )
        assert find.scalar(connection, status=CommentStatus.TRASH, at=comment.created_at) is None
        with pytest.raises(sa.exc.StatementError):
            find.scalar(connection, status=CommentStatus.SPAM, at=datetime(2026, 1, 1))


def test_errors_are_sqlalchemys(app, post_id):
    broken = Prepared(select(sa.literal_column("no_such_column")).select_from(Post.__table__))
    duplicate = Prepared(
        sa.insert(User).values(
            username=bindparam("name"),
            email="x@example.org",
            password_hash="x",
            role="admin",
            display_name="X",
            active=True,
            created_at=datetime.now(UTC),
        )
    )
    create_user(app, "taken")
    with app.app_context():
        with pytest.raises((OperationalError, ProgrammingError)):
            broken.rows(db.session.connection())
        db.session.rollback()
        with pytest.raises(IntegrityError):
            duplicate.execute(db.session.connection(), name="taken")
        db.session.rollback()


def test_statement_listeners_still_see_prepared_statements(app, post_id):
    """Query counts and plans in the tests listen to statements: they see these too."""
    seen: list[str] = []
    prepared = Prepared(STATEMENTS["typed columns"])
    with app.app_context():
        engine = db.engine

        def record(conn, cursor, statement, parameters, context, executemany):
            seen.append(statement)

        sa.event.listen(engine, "before_cursor_execute", record)
        try:
            connection = db.session.connection()
            prepared.rows(connection, post_id=post_id)
            assert prepared.first(connection, post_id=post_id) is None
        finally:
            sa.event.remove(engine, "before_cursor_execute", record)
    assert len(seen) == 2
    assert "FROM comments" in seen[0]


def test_a_list_of_values_is_refused_when_compiled(app):
    prepared = Prepared(select(Comment.id).where(Comment.id.in_(bindparam("ids", expanding=True))))
    with app.app_context(), pytest.raises(ValueError, match="IN"):
        prepared.rows(db.session.connection(), ids=[1, 2])


def test_statuses_round_trip(app, post_id):
    read = Prepared(select(Post.status).where(Post.id == bindparam("post_id")))
    with app.app_context():
        assert read.scalar(db.session.connection(), post_id=post_id) is PostStatus.PUBLISHED
