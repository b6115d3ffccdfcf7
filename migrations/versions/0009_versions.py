"""the live version and who made it live (deploys and roll-backs); deployments identified by canonical content

Revision ID: 0009_versions
Revises: 0005_task_data
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa

revision = '0009_versions'
down_revision = '0007_documents'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'deployment_activations',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('deployment_id', sa.Integer(), sa.ForeignKey('deployments.id', ondelete='CASCADE'), nullable=False),
        sa.Column('previous_id', sa.Integer(), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('by', sa.String(64), nullable=True),
        sa.Column('how', sa.String(16), nullable=False),
    )
    op.create_index('ix_deployment_activations_deployment_id', 'deployment_activations', ['deployment_id'])
    conn = op.get_bind()
    # until now the newest version was the live one
    latest = conn.execute(sa.text("SELECT id, created_at, created_by FROM deployments ORDER BY id DESC LIMIT 1")).first()
    if latest is not None:
        conn.execute(sa.text("INSERT INTO deployment_activations (deployment_id, previous_id, at, by, how) "
                             "VALUES (:d, NULL, :at, :by, 'deploy')"),
                     {"d": latest.id, "at": latest.created_at, "by": latest.created_by})
    # versions are now identified by their canonical content (a re-save in the modeler is the same version)
    from service.bundle import bundle_hash
    taken = set()
    rows = conn.execute(sa.text("SELECT id FROM deployments ORDER BY id")).all()
    for (deployment_id,) in rows:
        files = {name: bytes(content) for name, content in conn.execute(
            sa.text("SELECT name, content FROM deployment_files WHERE deployment_id = :d"), {"d": deployment_id})}
        digest = bundle_hash(files)
        if digest in taken:  # an earlier version means the same: it keeps the identity, this one its old hash
            continue
        taken.add(digest)
        conn.execute(sa.text("UPDATE deployments SET content_hash = :h WHERE id = :d"), {"h": digest, "d": deployment_id})


def downgrade() -> None:
    op.drop_index('ix_deployment_activations_deployment_id', 'deployment_activations')
    op.drop_table('deployment_activations')
