"""Change jobs get a runner lease (which process runs the current wave, and when it last said so) and the error
of a plan that failed. Columns added, no data moved.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("change_jobs") as batch:
        batch.add_column(sa.Column("runner", sa.String(200), nullable=True))
        batch.add_column(sa.Column("runner_seen", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("error", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("change_jobs") as batch:
        batch.drop_column("error")
        batch.drop_column("runner_seen")
        batch.drop_column("runner")
