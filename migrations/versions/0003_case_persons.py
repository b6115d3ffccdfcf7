"""persons, not cases: respondents with their own outcomes, the person a task is about, a person's own unit in
the Art. 15 register

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('case_persons',
                    sa.Column('case_id', sa.Integer(), nullable=False),
                    sa.Column('person', sa.String(length=64), nullable=False),
                    sa.Column('role', sa.String(length=16), nullable=False),
                    sa.Column('unit', sa.String(length=100), nullable=False),
                    sa.Column('year', sa.Integer(), nullable=False),
                    sa.Column('outcome', JSON, nullable=True),
                    sa.Column('established', sa.Boolean(), nullable=False),
                    sa.Column('served_on', sa.String(length=10), nullable=True),
                    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='CASCADE'),
                    sa.PrimaryKeyConstraint('case_id', 'person'))
    op.create_index('ix_case_persons_person_year', 'case_persons', ['person', 'year'], unique=False)
    with op.batch_alter_table('tasks') as batch:
        batch.add_column(sa.Column('person', sa.String(length=64), nullable=True))
    with op.batch_alter_table('disqualifications') as batch:
        batch.add_column(sa.Column('unit', sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('disqualifications') as batch:
        batch.drop_column('unit')
    with op.batch_alter_table('tasks') as batch:
        batch.drop_column('person')
    op.drop_index('ix_case_persons_person_year', table_name='case_persons')
    op.drop_table('case_persons')
