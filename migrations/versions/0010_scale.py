"""lists that cost the same at 100,000 cases: tasks.due_order and indexes in the order of each list; rate limits'
counters in the database (shared by every server process)

Revision ID: 0010_scale
Revises: 0005_task_data
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa

revision = '0010_scale'
down_revision = '0006_time_limits'
branch_labels = None
depends_on = None

# tasks without a due time sort last: 9999-12-31 UTC, as each database stores a UTC timestamp
NO_DUE = {'postgresql': "'9999-12-31 00:00:00+00'", 'sqlite': "'9999-12-31 00:00:00.000000'"}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table('tasks') as batch:
        batch.add_column(sa.Column('due_order', sa.DateTime(timezone=True), nullable=True))
    op.execute(f"UPDATE tasks SET due_order = COALESCE(due, {NO_DUE.get(dialect, NO_DUE['postgresql'])})")
    with op.batch_alter_table('tasks') as batch:
        batch.alter_column('due_order', existing_type=sa.DateTime(timezone=True), nullable=False)
    op.drop_index('ix_tasks_state_role', table_name='tasks')
    op.drop_index('ix_tasks_state_assignee', table_name='tasks')
    unassigned = {'postgresql_where': sa.text('assignee IS NULL'), 'sqlite_where': sa.text('assignee IS NULL')}
    op.create_index('ix_tasks_queue_due', 'tasks', ['state', 'role', 'due_order', 'created_at', 'id', 'case_id'],
                    **unassigned)
    op.create_index('ix_tasks_queue_created', 'tasks', ['state', 'role', 'created_at', 'id', 'case_id'],
                    **unassigned)
    op.create_index('ix_tasks_queue_case', 'tasks',
                    ['state', 'role', sa.text('case_id DESC'), 'created_at', 'id', 'assignee'], **unassigned)
    op.create_index('ix_tasks_assignee_due', 'tasks', ['state', 'assignee', 'due_order', 'created_at', 'id'])
    claimed = {'postgresql_where': sa.text('claimed_by IS NOT NULL'), 'sqlite_where': sa.text('claimed_by IS NOT NULL')}
    op.create_index('ix_tasks_claimed_due', 'tasks', ['state', 'claimed_by', 'role', 'due_order', 'created_at', 'id'],
                    **claimed)
    op.create_index('ix_tasks_claimed_created', 'tasks', ['state', 'claimed_by', 'role', 'created_at', 'id'], **claimed)
    op.create_index('ix_tasks_claimed_case', 'tasks',
                    ['state', 'claimed_by', 'role', sa.text('case_id DESC'), 'created_at', 'id'], **claimed)
    op.create_index('ix_tasks_assignee_case', 'tasks', ['assignee', 'case_id'])
    op.create_index('ix_cases_status_id', 'cases', ['status', 'id'])
    op.create_table('rate_limits',
                    sa.Column('key', sa.String(length=255), nullable=False),
                    sa.Column('hits', sa.Integer(), nullable=False),
                    sa.Column('expires_at', sa.Float(), nullable=False),
                    sa.PrimaryKeyConstraint('key'))
    op.create_index('ix_rate_limits_expires_at', 'rate_limits', ['expires_at'])


def downgrade() -> None:
    op.drop_index('ix_rate_limits_expires_at', table_name='rate_limits')
    op.drop_table('rate_limits')
    op.drop_index('ix_cases_status_id', table_name='cases')
    for name in ('ix_tasks_assignee_case', 'ix_tasks_claimed_case', 'ix_tasks_claimed_created', 'ix_tasks_claimed_due',
                 'ix_tasks_assignee_due', 'ix_tasks_queue_case',
                 'ix_tasks_queue_created', 'ix_tasks_queue_due'):
        op.drop_index(name, table_name='tasks')
    op.create_index('ix_tasks_state_assignee', 'tasks', ['state', 'assignee'])
    op.create_index('ix_tasks_state_role', 'tasks', ['state', 'role'])
    with op.batch_alter_table('tasks') as batch:
        batch.drop_column('due_order')
