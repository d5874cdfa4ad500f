"""ingest runs record how they ended

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 06:00:00

An audit row used to be written only for an ingest that finished, so an interrupted one left no
trace although its complete batches stayed stored. ``status`` tells the three endings apart:
``completed``, ``rolled_back`` (``--strict`` with a rejected record) and ``interrupted``.
Existing rows are runs that finished (a roll-back among them cannot be told apart any more).
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ingest_runs") as batch:
        batch.add_column(
            sa.Column("status", sa.String(length=16), nullable=False, server_default="completed")
        )


def downgrade() -> None:
    with op.batch_alter_table("ingest_runs") as batch:
        batch.drop_column("status")
