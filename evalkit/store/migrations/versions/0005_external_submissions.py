"""review: submissions made outside evalkit (Label Studio), idempotent on their external id

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 16:00:00

``source`` says where a submission was made (none: evalkit's own queue; ``labelstudio``: a Label
Studio annotation imported by ``evalkit labelstudio import``); ``external_id`` is that source's
id for the exact version imported (``<annotation id>@<updated at>``), unique, so importing the
same annotation again stores nothing.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("review_submissions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("external_id", sa.String(length=256), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_review_submissions_external_id"), ["external_id"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("review_submissions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_submissions_external_id"))
        batch_op.drop_column("external_id")
        batch_op.drop_column("source")
