"""review: leases, submissions, tokens, tenants, gold items, sampling-rule bookkeeping

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 15:00:00

The review queue: per-reviewer assignments (leases) so an item can need k >= 2 distinct
reviewers, label versions grouped in submissions (who, when, correction, seconds), reviewer
tokens (sha256 only) and tenants, the response's tenant copied onto each review item for fast
filtering, gold answers on gold items, and what each continuous-sampling rule has considered.
Imported labels keep working unchanged: their new columns are NULL.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sampling_rules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("considered_through", sa.DateTime(timezone=True), nullable=True),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("considered", sa.Integer(), nullable=False),
        sa.Column("selected", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sampling_rules")),
        sa.UniqueConstraint("name", name=op.f("uq_sampling_rules_name")),
    )
    op.create_table(
        "reviewer_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["reviewer_id"],
            ["reviewers.id"],
            name=op.f("fk_reviewer_tokens_reviewer_id_reviewers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviewer_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_reviewer_tokens_token_hash")),
    )
    with op.batch_alter_table("reviewer_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reviewer_tokens_reviewer_id"), ["reviewer_id"], unique=False
        )

    op.create_table(
        "review_assignments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("review_item_id", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("leased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["review_item_id"],
            ["review_items.id"],
            name=op.f("fk_review_assignments_review_item_id_review_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"],
            ["reviewers.id"],
            name=op.f("fk_review_assignments_reviewer_id_reviewers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_assignments")),
        sa.UniqueConstraint(
            "review_item_id", "reviewer_id", name=op.f("uq_review_assignments_review_item_id")
        ),
    )
    with op.batch_alter_table("review_assignments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_review_assignments_review_item_id"), ["review_item_id"], unique=False
        )
        batch_op.create_index(
            "ix_review_assignments_reviewer_status", ["reviewer_id", "status"], unique=False
        )

    op.create_table(
        "review_submissions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("review_item_id", sa.Integer(), nullable=False),
        sa.Column("response_id", sa.String(length=128), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("correction", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["responses.id"],
            name=op.f("fk_review_submissions_response_id_responses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["review_item_id"],
            ["review_items.id"],
            name=op.f("fk_review_submissions_review_item_id_review_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"],
            ["reviewers.id"],
            name=op.f("fk_review_submissions_reviewer_id_reviewers"),
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"],
            ["review_submissions.id"],
            name=op.f("fk_review_submissions_supersedes_id_review_submissions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_submissions")),
    )
    with op.batch_alter_table("review_submissions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_review_submissions_response_id"), ["response_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_review_submissions_review_item_id"), ["review_item_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_review_submissions_reviewer_id"), ["reviewer_id"], unique=False
        )

    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("submission_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reviewer_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("span", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("category", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("off_brand", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("details", sa.JSON(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_labels_submission_id"), ["submission_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_labels_reviewer_id_reviewers"), "reviewers", ["reviewer_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_labels_submission_id_review_submissions"),
            "review_submissions",
            ["submission_id"],
            ["id"],
            ondelete="CASCADE",
        )

    with op.batch_alter_table("review_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tenant", sa.String(length=128), nullable=True))
        batch_op.add_column(
            sa.Column("reviews_done", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("reason", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("gold", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("serve_key", sa.String(length=200), server_default="", nullable=False)
        )
        batch_op.create_index(
            "ix_review_items_serving", ["queue", "status", "serve_key"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_review_items_tenant"), ["tenant"], unique=False)

    with op.batch_alter_table("reviewers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tenants", sa.JSON(), nullable=True))

    # Items queued before this revision get their response's tenant and their serving key.
    op.execute(
        "UPDATE review_items SET tenant = "
        "(SELECT responses.tenant FROM responses WHERE responses.id = review_items.response_id)"
    )
    from evalkit.store.enqueue import serve_key

    conn = op.get_bind()
    items = sa.table(
        "review_items",
        sa.column("id"),
        sa.column("response_id"),
        sa.column("priority"),
        sa.column("due_at", sa.DateTime(timezone=True)),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("serve_key"),
    )
    for row in conn.execute(sa.select(items)).all():
        key = serve_key(row.priority, row.due_at, row.created_at, row.response_id)
        conn.execute(sa.update(items).where(items.c.id == row.id).values(serve_key=key))


def downgrade() -> None:
    with op.batch_alter_table("reviewers", schema=None) as batch_op:
        batch_op.drop_column("tenants")

    with op.batch_alter_table("review_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_items_tenant"))
        batch_op.drop_index("ix_review_items_serving")
        batch_op.drop_column("serve_key")
        batch_op.drop_column("gold")
        batch_op.drop_column("reason")
        batch_op.drop_column("reviews_done")
        batch_op.drop_column("tenant")

    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_labels_submission_id_review_submissions"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("fk_labels_reviewer_id_reviewers"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_labels_submission_id"))
        batch_op.drop_column("details")
        batch_op.drop_column("off_brand")
        batch_op.drop_column("category")
        batch_op.drop_column("span")
        batch_op.drop_column("reviewer_id")
        batch_op.drop_column("submission_id")

    with op.batch_alter_table("review_submissions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_submissions_reviewer_id"))
        batch_op.drop_index(batch_op.f("ix_review_submissions_review_item_id"))
        batch_op.drop_index(batch_op.f("ix_review_submissions_response_id"))

    op.drop_table("review_submissions")
    with op.batch_alter_table("review_assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_review_assignments_reviewer_status")
        batch_op.drop_index(batch_op.f("ix_review_assignments_review_item_id"))

    op.drop_table("review_assignments")
    with op.batch_alter_table("reviewer_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reviewer_tokens_reviewer_id"))

    op.drop_table("reviewer_tokens")
    op.drop_table("sampling_rules")
