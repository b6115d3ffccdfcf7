"""documents as an outbox: a document's files are rendered after the step that issued it (state pending → ready, or
failed with the reason after a bounded number of tries); documents issued before are ready

Revision ID: 0011_outbox
Revises: 0010_scale
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa

revision = '0011_outbox'
down_revision = '0010_scale'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('documents') as batch:
        batch.add_column(sa.Column('state', sa.String(length=10), server_default='ready', nullable=False))
        batch.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
        batch.add_column(sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('error', sa.Text(), nullable=True))
        batch.alter_column('pdf', existing_type=sa.LargeBinary(), nullable=True)
        batch.alter_column('docx', existing_type=sa.LargeBinary(), nullable=True)
    pending = sa.text("state = 'pending'")
    op.create_index('ix_documents_pending', 'documents', ['id'], unique=False,
                    postgresql_where=pending, sqlite_where=pending)


def downgrade() -> None:
    op.drop_index('ix_documents_pending', table_name='documents')
    unrendered = op.get_bind().execute(sa.text("SELECT count(*) FROM documents WHERE pdf IS NULL OR docx IS NULL"))
    if unrendered.scalar():  # a document and its number are never dropped: render them first
        raise RuntimeError("documents not yet rendered: run `accountability timers` until none is pending")
    with op.batch_alter_table('documents') as batch:
        batch.alter_column('docx', existing_type=sa.LargeBinary(), nullable=False)
        batch.alter_column('pdf', existing_type=sa.LargeBinary(), nullable=False)
        batch.drop_column('error')
        batch.drop_column('failed_at')
        batch.drop_column('claimed_at')
        batch.drop_column('attempts')
        batch.drop_column('state')
