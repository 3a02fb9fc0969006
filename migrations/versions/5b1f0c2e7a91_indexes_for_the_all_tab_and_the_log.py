"""indexes for the queue's All tab, the moderation log page and the admin's posts list

The All tab lists every comment newest first; the log page filters by moderator or action,
newest first; the posts list shows the last edited first, everyone's or one author's. Each
is an ordered walk of one index that stops at the page's end.

Revision ID: 5b1f0c2e7a91
Revises: 62791389c43a
Create Date: 2026-12-03 12:10:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '5b1f0c2e7a91'
down_revision = '62791389c43a'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.create_index('ix_posts_updated', ['updated_at', 'id'], unique=False)
        batch_op.create_index('ix_posts_author_updated', ['author_id', 'updated_at'], unique=False)
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.create_index('ix_comments_created_id', ['created_at', 'id'], unique=False)
    with op.batch_alter_table('moderation_log', schema=None) as batch_op:
        batch_op.create_index(
            'ix_moderation_log_actor_created', ['actor_id', 'created_at'], unique=False
        )
        batch_op.create_index(
            'ix_moderation_log_action_created', ['action', 'created_at'], unique=False
        )


def downgrade():
    with op.batch_alter_table('moderation_log', schema=None) as batch_op:
        batch_op.drop_index('ix_moderation_log_action_created')
        batch_op.drop_index('ix_moderation_log_actor_created')
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_index('ix_comments_created_id')
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_index('ix_posts_author_updated')
        batch_op.drop_index('ix_posts_updated')
