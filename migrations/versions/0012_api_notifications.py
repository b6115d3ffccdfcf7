"""a person's notifications read newest first from an index (the JSON API pages them by cursor)

Revision ID: 0012_api_notifications
Revises: 0011_outbox
Create Date: 2026-11-26
"""
from alembic import op

revision = '0012_api_notifications'
down_revision = '0011_outbox'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_notifications_user_id', 'notifications', ['username', 'id'])


def downgrade() -> None:
    op.drop_index('ix_notifications_user_id', table_name='notifications')
