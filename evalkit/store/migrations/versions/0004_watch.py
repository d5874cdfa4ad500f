"""watch: alert state and history

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 15:20:00

One row per alert of a watch rule and cell (open until its condition clears, so it is not
re-sent while open) and the events of each (opened, notified, delivery failed, closed).
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "watch_alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("rule", sa.String(length=128), nullable=False),
        sa.Column("cell", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=True),
        sa.Column("action", sa.String(length=256), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notify_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watch_alerts")),
    )
    op.create_index("ix_watch_alerts_key_status", "watch_alerts", ["key", "status"])
    op.create_table(
        "watch_alert_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["watch_alerts.id"],
            name=op.f("fk_watch_alert_events_alert_id_watch_alerts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watch_alert_events")),
    )
    op.create_index(
        op.f("ix_watch_alert_events_alert_id"), "watch_alert_events", ["alert_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_watch_alert_events_alert_id"), table_name="watch_alert_events")
    op.drop_table("watch_alert_events")
    op.drop_index("ix_watch_alerts_key_status", table_name="watch_alerts")
    op.drop_table("watch_alerts")
