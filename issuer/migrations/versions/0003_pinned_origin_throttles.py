"""The pinned public origin (issuer_state.base_url) and the shared throttle counters.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('issuer_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('base_url', sa.String(length=2000), nullable=True))
    op.create_table('throttle_hits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_throttle_hits'))
    )
    with op.batch_alter_table('throttle_hits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_throttle_hits_key'), ['key'], unique=False)
        batch_op.create_index(batch_op.f('ix_throttle_hits_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('throttle_hits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_throttle_hits_expires_at'))
        batch_op.drop_index(batch_op.f('ix_throttle_hits_key'))
    op.drop_table('throttle_hits')
    with op.batch_alter_table('issuer_state', schema=None) as batch_op:
        batch_op.drop_column('base_url')
