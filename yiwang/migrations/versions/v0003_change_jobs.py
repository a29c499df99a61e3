"""Change jobs (issue 11): the jobs with their waves, and each device's state, diff and rollback lines.

Two new tables, no data moved.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "change_jobs",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("area", sa.String(200), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_by", sa.String(64), nullable=True),
        sa.Column("current_wave", sa.Integer, nullable=False),
        sa.Column("waves", sa.Text, nullable=False),
        sa.Column("parameters", sa.Text, nullable=False),
        sa.Column("approvals", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_change_jobs_state", "change_jobs", ["state"])
    op.create_table(
        "change_devices",
        sa.Column("job_id", sa.String(16), primary_key=True),
        sa.Column("device", sa.String(200), primary_key=True),
        sa.Column("wave", sa.Integer, nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("diff", sa.Text, nullable=False),
        sa.Column("commands", sa.Text, nullable=False),
        sa.Column("rollback", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("change_devices")
    op.drop_index("ix_change_jobs_state", table_name="change_jobs")
    op.drop_table("change_jobs")
