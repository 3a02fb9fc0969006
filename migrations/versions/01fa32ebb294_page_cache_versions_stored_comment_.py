"""page cache: versions, stored comment fragments, thread ids, tallies

Adds what the fast reading path needs: cache generations, each comment's stored page
fragment, avatar and content hashes and thread id, per-status comment counts (per post and
in all), and the indexes the post page, comment paging, the queue and the comment checks
use. Existing rows are filled in.

Note for later migrations: SQLite cannot reflect the expression index ix_comments_email_lower,
so a batch operation that rebuilds the comments table must create it again.

Revision ID: 01fa32ebb294
Revises: 9414b6807c16
Create Date: 2026-12-02 03:28:32.020248

"""
import hashlib
from collections import defaultdict

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '01fa32ebb294'
down_revision = '9414b6807c16'
branch_labels = None
depends_on = None


STATUSES = ("pending", "approved", "spam", "trash")
COUNT_COLUMNS = {
    "approved": "comment_count",
    "pending": "pending_count",
    "spam": "spam_count",
    "trash": "trash_count",
}


def upgrade():
    op.create_table('cache_versions',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_cache_versions'))
    )
    op.create_table('comment_tallies',
    sa.Column('status', sa.Enum('pending', 'approved', 'spam', 'trash', name='comment_status', native_enum=False, length=20), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('status', name=op.f('pk_comment_tallies'))
    )
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('thread_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('content_hash', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('avatar_hash', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('fragment_html', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('fragment_key', sa.String(length=100), nullable=False, server_default=''))
        batch_op.drop_index(batch_op.f('ix_comments_email'))
        batch_op.drop_index(batch_op.f('ix_comments_ip'))
        batch_op.create_index('ix_comments_ip_created', ['ip', 'created_at'], unique=False)
        batch_op.create_index('ix_comments_post_content_hash', ['post_id', 'content_hash'], unique=False)
        batch_op.create_index('ix_comments_post_threads', ['post_id', 'status', 'thread_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_comments_thread_status', ['thread_id', 'status'], unique=False)
    op.create_index('ix_comments_email_lower', 'comments', [sa.text('lower(email)'), 'status', 'created_at'], unique=False)

    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pending_count', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('spam_count', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('trash_count', sa.Integer(), nullable=False, server_default='0'))

    _fill_in(op.get_bind())


def _fill_in(connection):
    """Hashes, thread ids, counts and fragments for the comments already there."""
    from blog.services.comment_html import context_from_connection, refresh
    from blog.tree import thread_ids

    comments = sa.table(
        "comments",
        sa.column("id"), sa.column("post_id"), sa.column("parent_id"), sa.column("status"),
        sa.column("email"), sa.column("content"), sa.column("thread_id"),
        sa.column("content_hash"), sa.column("avatar_hash"),
    )
    by_post = defaultdict(list)
    counts = defaultdict(lambda: dict.fromkeys(STATUSES, 0))
    updates = []
    for row in connection.execute(
        sa.select(comments.c.id, comments.c.post_id, comments.c.parent_id, comments.c.status,
                  comments.c.email, comments.c.content).order_by(comments.c.id)
    ):
        by_post[row.post_id].append((row.id, row.parent_id, row.status == "approved"))
        counts[row.post_id][row.status] += 1
        updates.append({
            "b_id": row.id,
            "b_content": hashlib.sha256((row.content or "").encode("utf-8")).hexdigest(),
            "b_avatar": hashlib.sha256((row.email or "").strip().lower().encode("utf-8")).hexdigest(),
        })
    threads = {}
    for rows in by_post.values():
        threads.update(thread_ids(rows))
    for values in updates:
        values["b_thread"] = threads[values["b_id"]]
    if updates:
        connection.execute(
            comments.update().where(comments.c.id == sa.bindparam("b_id")).values(
                content_hash=sa.bindparam("b_content"),
                avatar_hash=sa.bindparam("b_avatar"),
                thread_id=sa.bindparam("b_thread"),
            ),
            updates,
        )
    posts = sa.table("posts", sa.column("id"), *(sa.column(c) for c in COUNT_COLUMNS.values()))
    for post_id, by_status in counts.items():
        connection.execute(
            posts.update().where(posts.c.id == post_id).values(
                **{COUNT_COLUMNS[status]: n for status, n in by_status.items()}
            )
        )
    tallies = sa.table("comment_tallies", sa.column("status"), sa.column("count"))
    connection.execute(tallies.insert(), [
        {"status": status, "count": sum(c[status] for c in counts.values())}
        for status in STATUSES
    ])
    refresh(connection, context_from_connection(connection))


def downgrade():
    op.drop_index('ix_comments_email_lower', table_name='comments')
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_column('trash_count')
        batch_op.drop_column('spam_count')
        batch_op.drop_column('pending_count')

    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_index('ix_comments_thread_status')
        batch_op.drop_index('ix_comments_post_threads')
        batch_op.drop_index('ix_comments_post_content_hash')
        batch_op.drop_index('ix_comments_ip_created')
        batch_op.create_index(batch_op.f('ix_comments_ip'), ['ip'], unique=False)
        batch_op.create_index(batch_op.f('ix_comments_email'), ['email'], unique=False)
        batch_op.drop_column('fragment_key')
        batch_op.drop_column('fragment_html')
        batch_op.drop_column('avatar_hash')
        batch_op.drop_column('content_hash')
        batch_op.drop_column('thread_id')

    op.drop_table('comment_tallies')
    op.drop_table('cache_versions')
