"""time limits: escalation time and reminder marks on the task index, notifications, users' e-mail addresses

Revision ID: 0006_time_limits
Revises: 0008_drafts
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa

revision = '0006_time_limits'
down_revision = '0008_drafts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tasks') as batch:
        batch.add_column(sa.Column('escalate_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_tasks_state_due', 'tasks', ['state', 'due'], unique=False)
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('email', sa.String(length=200), nullable=True))
    op.create_table('notifications',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('username', sa.String(length=64), nullable=False),
                    sa.Column('case_id', sa.Integer(), nullable=True),
                    sa.Column('task_id', sa.String(length=36), nullable=True),
                    sa.Column('kind', sa.String(length=20), nullable=False),
                    sa.Column('title', sa.String(length=200), nullable=False),
                    sa.Column('person', sa.String(length=64), nullable=True),
                    sa.Column('due', sa.DateTime(timezone=True), nullable=True),
                    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
                    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
                    sa.Column('emailed_at', sa.DateTime(timezone=True), nullable=True),
                    sa.Column('email_attempts', sa.Integer(), nullable=False, server_default='0'),
                    sa.Column('email_tried_at', sa.DateTime(timezone=True), nullable=True),
                    sa.Column('email_error', sa.String(length=300), nullable=True),
                    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='CASCADE'),
                    sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_notifications_case_id', 'notifications', ['case_id'], unique=False)
    op.create_index('ix_notifications_user_read', 'notifications', ['username', 'read_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_notifications_user_read', table_name='notifications')
    op.drop_index('ix_notifications_case_id', table_name='notifications')
    op.drop_table('notifications')
    with op.batch_alter_table('users') as batch:
        batch.drop_column('email')
    op.drop_index('ix_tasks_state_due', table_name='tasks')
    with op.batch_alter_table('tasks') as batch:
        batch.drop_column('escalated_at')
        batch.drop_column('reminded_at')
        batch.drop_column('escalate_at')
