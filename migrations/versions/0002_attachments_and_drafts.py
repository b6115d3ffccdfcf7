"""evidence attachments and task-form drafts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('attachments',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('case_id', sa.Integer(), nullable=False),
                    sa.Column('task_id', sa.String(length=36), nullable=True),
                    sa.Column('filename', sa.String(length=255), nullable=False),
                    sa.Column('content_type', sa.String(length=100), nullable=False),
                    sa.Column('size', sa.Integer(), nullable=False),
                    sa.Column('content', sa.LargeBinary(), nullable=False),
                    sa.Column('uploaded_by', sa.String(length=64), nullable=False),
                    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
                    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='CASCADE'),
                    sa.PrimaryKeyConstraint('id'))
    op.create_index(op.f('ix_attachments_case_id'), 'attachments', ['case_id'], unique=False)
    op.create_table('drafts',
                    sa.Column('task_id', sa.String(length=36), nullable=False),
                    sa.Column('username', sa.String(length=64), nullable=False),
                    sa.Column('data', JSON, nullable=False),
                    sa.Column('saved_at', sa.DateTime(timezone=True), nullable=False),
                    sa.PrimaryKeyConstraint('task_id', 'username'))


def downgrade() -> None:
    op.drop_table('drafts')
    op.drop_index(op.f('ix_attachments_case_id'), table_name='attachments')
    op.drop_table('attachments')
