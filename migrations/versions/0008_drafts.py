"""drafts of the process files edited in the browser (/processes/edit), kept apart from the deployments

Revision ID: 0008_drafts
Revises: 0009_versions
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0008_drafts'
down_revision = '0009_versions'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table(
        'process_drafts',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('base_version', sa.Integer(), sa.ForeignKey('deployments.id'), nullable=False),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('revision', sa.Integer(), nullable=False),
        sa.Column('created_by', sa.String(64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.String(64), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('deployed_version', sa.Integer(), nullable=True),
        sa.Column('check_result', JSON, nullable=True),
        sa.Column('checked_revision', sa.Integer(), nullable=True),
    )
    op.create_index('ix_process_drafts_status', 'process_drafts', ['status'])
    op.create_table(
        'process_draft_files',
        sa.Column('draft_id', sa.Integer(), sa.ForeignKey('process_drafts.id', ondelete='CASCADE'),
                  primary_key=True),
        sa.Column('name', sa.String(200), primary_key=True),
        sa.Column('content', sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('process_draft_files')
    op.drop_index('ix_process_drafts_status', table_name='process_drafts')
    op.drop_table('process_drafts')
