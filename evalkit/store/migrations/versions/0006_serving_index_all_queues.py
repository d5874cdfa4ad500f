"""review: an index serving claims that name no queue

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 09:20:00

A claim from every queue (the reviewer app's default) filters open items by status only; the
queue-first serving index cannot hand it candidates in serving order, so PostgreSQL sorted
every open item on each claim. ``(status, serve_key)`` lets it stop at the first eligible one.
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("review_items", schema=None) as batch_op:
        batch_op.create_index("ix_review_items_serving_all", ["status", "serve_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("review_items", schema=None) as batch_op:
        batch_op.drop_index("ix_review_items_serving_all")
