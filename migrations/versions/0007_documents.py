"""documents per person (notices and decisions) with their numbers (文号) per kind and year; a user's post (职务)

Revision ID: 0007_documents
Revises: 0005_task_data
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0007_documents'
down_revision = '0005_task_data'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('documents',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('case_id', sa.Integer(), nullable=False),
                    sa.Column('person', sa.String(length=64), nullable=False),
                    sa.Column('kind', sa.String(length=40), nullable=False),
                    sa.Column('ref', sa.String(length=40), nullable=False),
                    sa.Column('title', sa.String(length=100), nullable=False),
                    sa.Column('number', sa.String(length=100), nullable=False),
                    sa.Column('year', sa.Integer(), nullable=False),
                    sa.Column('seq', sa.Integer(), nullable=False),
                    sa.Column('issued_on', sa.String(length=10), nullable=False),
                    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
                    sa.Column('template_hash', sa.String(length=64), nullable=False),
                    sa.Column('content', JSON, nullable=False),
                    sa.Column('pdf', sa.LargeBinary(), nullable=False),
                    sa.Column('docx', sa.LargeBinary(), nullable=False),
                    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='CASCADE'),
                    sa.PrimaryKeyConstraint('id'),
                    sa.UniqueConstraint('case_id', 'kind', 'person', 'ref', name='uq_documents_case_kind_person_ref'),
                    sa.UniqueConstraint('kind', 'year', 'seq', name='uq_documents_kind_year_seq'))
    op.create_index('ix_documents_case_id', 'documents', ['case_id'], unique=False)
    op.create_table('document_numbers',
                    sa.Column('kind', sa.String(length=40), nullable=False),
                    sa.Column('year', sa.Integer(), nullable=False),
                    sa.Column('last', sa.Integer(), nullable=False),
                    sa.PrimaryKeyConstraint('kind', 'year'))
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('post', sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.drop_column('post')
    op.drop_table('document_numbers')
    op.drop_index('ix_documents_case_id', table_name='documents')
    op.drop_table('documents')
