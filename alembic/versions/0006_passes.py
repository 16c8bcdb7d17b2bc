"""passes: which rungs a media job encodes, and the master the app merged from a production's passes

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every job made before passes encoded the whole ladder.
    with op.batch_alter_table("media_jobs") as batch:
        batch.add_column(sa.Column("pass_name", sa.String(8), nullable=False, server_default="full"))
    with op.batch_alter_table("productions") as batch:
        batch.add_column(sa.Column("master_playlist", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("productions") as batch:
        batch.drop_column("master_playlist")
    with op.batch_alter_table("media_jobs") as batch:
        batch.drop_column("pass_name")
