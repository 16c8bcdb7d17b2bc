"""renditions: the variant streams of a production's HLS ladder, as its transcoder reported them

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("productions") as batch:
        batch.add_column(sa.Column("renditions", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("productions") as batch:
        batch.drop_column("renditions")
