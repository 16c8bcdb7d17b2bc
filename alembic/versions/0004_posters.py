"""posters: an export's poster frame beside its file, a production's frame capture

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.add_column(sa.Column("poster_key", sa.String(length=512), nullable=True))
    with op.batch_alter_table("productions") as batch:
        batch.add_column(sa.Column("poster_uri", sa.String(length=1024), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("productions") as batch:
        batch.drop_column("poster_uri")
    with op.batch_alter_table("uploads") as batch:
        batch.drop_column("poster_key")
