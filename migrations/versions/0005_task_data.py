"""what a completed task's form submitted, kept with the task; evidence files waiting for their step (drafts)

Revision ID: 0005_task_data
Revises: 0004
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0005_task_data'
down_revision = '0004'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    with op.batch_alter_table('tasks') as batch:
        batch.add_column(sa.Column('data', JSON, nullable=True))
    with op.batch_alter_table('attachments') as batch:
        batch.add_column(sa.Column('draft', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('attachments') as batch:
        batch.drop_column('draft')
    with op.batch_alter_table('tasks') as batch:
        batch.drop_column('data')
