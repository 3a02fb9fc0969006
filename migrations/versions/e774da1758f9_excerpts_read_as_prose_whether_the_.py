"""excerpts read as prose; whether the excerpt is the whole post

Automatic excerpts are now the post's first paragraphs (not a run-on of its headings, list
items and code), and a post remembers whether its excerpt is all of it. Existing posts whose
excerpt is the automatic one of before get the new one; typed excerpts are kept.

Revision ID: e774da1758f9
Revises: daeae4a48875
Create Date: 2026-12-03 11:11:33.985434

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e774da1758f9'
down_revision = 'daeae4a48875'
branch_labels = None
depends_on = None

EXCERPT_CHARS = 300  # blog.services.posts.EXCERPT_WORDS_CHARS when this was written


def upgrade():
    from blog import sanitize

    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('excerpt_is_whole', sa.Boolean(), server_default=sa.false(), nullable=False))

    posts = sa.table(
        "posts", sa.column("id"), sa.column("body_html"), sa.column("excerpt"),
        sa.column("excerpt_is_whole", sa.Boolean()),
    )
    connection = op.get_bind()
    reader = sanitize._text_readers.value
    for post_id, body_html, excerpt in connection.execute(
        sa.select(posts.c.id, posts.c.body_html, posts.c.excerpt)
    ).all():
        # The automatic excerpt as it was made before this revision.
        before = sanitize._shorten(reader.text(body_html or "", sanitize._NOT_IN_SUMMARY), EXCERPT_CHARS)
        if excerpt != before:
            continue  # typed by the author: kept
        text, whole = sanitize.excerpt(body_html or "", EXCERPT_CHARS)
        connection.execute(
            posts.update().where(posts.c.id == post_id).values(excerpt=text, excerpt_is_whole=whole)
        )


def downgrade():
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_column('excerpt_is_whole')
