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
    _persons_from_subjects()


def _persons_from_subjects() -> None:
    """Cases from before the person model had one subject: make them that case's respondent, with the case's
    outcome as theirs, so their established errors keep counting for Art. 11(3) and pages show one shape."""
    conn = op.get_bind()
    cases = sa.table('cases', sa.column('id', sa.Integer), sa.column('subject', sa.String), sa.column('unit', sa.String),
                     sa.column('year', sa.Integer), sa.column('outcome', JSON), sa.column('established', sa.Boolean),
                     sa.column('served_on', sa.String))
    persons = sa.table('case_persons', sa.column('case_id', sa.Integer), sa.column('person', sa.String),
                       sa.column('role', sa.String), sa.column('unit', sa.String), sa.column('year', sa.Integer),
                       sa.column('outcome', JSON), sa.column('established', sa.Boolean),
                       sa.column('served_on', sa.String))
    tasks = sa.table('tasks', sa.column('person', sa.String), sa.column('assignee', sa.String),
                     sa.column('role', sa.String))
    for row in conn.execute(sa.select(cases)).mappings().all():
        if not row['subject']:
            continue
        old = row['outcome'] if isinstance(row['outcome'], dict) else None
        mine = None
        if old is not None:
            liable = any(r.get('person') == row['subject'] for r in old.get('responsible') or [])
            mine = {'person': row['subject'], 'role': 'handler', 'unit': row['unit'], 'exempt': old.get('exempt'),
                    'liable': liable, 'aggravated': old.get('aggravated'), 'tier': old.get('tier'),
                    'measure': old.get('measure'), 'citations': old.get('citations') or [],
                    'established': bool(row['established']), 'revoked': bool(old.get('revoked')),
                    'served_on': row['served_on'], 'appeal_result': old.get('appeal_result')}
            conn.execute(sa.update(cases).where(cases.c.id == row['id']).values(outcome=[mine]))
        conn.execute(sa.insert(persons).values(case_id=row['id'], person=row['subject'], role='handler',
                                               unit=row['unit'] or '', year=row['year'], outcome=mine,
                                               established=bool(row['established']), served_on=row['served_on']))
    conn.execute(sa.update(tasks).where(tasks.c.assignee.isnot(None), tasks.c.role.is_(None))
                 .values(person=tasks.c.assignee))


def downgrade() -> None:
    with op.batch_alter_table('disqualifications') as batch:
        batch.drop_column('unit')
    with op.batch_alter_table('tasks') as batch:
        batch.drop_column('person')
    op.drop_index('ix_case_persons_person_year', table_name='case_persons')
    op.drop_table('case_persons')
