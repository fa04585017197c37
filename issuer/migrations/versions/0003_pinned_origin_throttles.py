"""The pinned public origin (issuer_state.base_url), the shared throttle counters, outbox messages
rendered when sent (mail_outbox.context), the new e-mail address a confirmation link waits for
(auth_tokens.new_email), and the indexes bulk imports no longer pay for (each was the prefix of
another, or only ordered rows that another index had already found).

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
    with op.batch_alter_table('auth_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('new_email', sa.String(length=320), nullable=True))
    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('context', sa.JSON(), nullable=True))
        batch_op.alter_column('body_text', existing_type=sa.Text(), nullable=True)
        batch_op.drop_index('ix_mail_outbox_next_attempt_at')
        batch_op.drop_index('ix_mail_outbox_status')
        batch_op.create_index('ix_mail_outbox_due', ['status', 'next_attempt_at'], unique=False)
    with op.batch_alter_table('credentials', schema=None) as batch_op:
        batch_op.drop_index('ix_credentials_issued_at')
    with op.batch_alter_table('certifications', schema=None) as batch_op:
        batch_op.drop_index('ix_certifications_candidate_id')
    with op.batch_alter_table('exam_results', schema=None) as batch_op:
        batch_op.drop_index('ix_exam_results_imported_at')


def downgrade() -> None:
    with op.batch_alter_table('exam_results', schema=None) as batch_op:
        batch_op.create_index('ix_exam_results_imported_at', ['imported_at'], unique=False)
    with op.batch_alter_table('certifications', schema=None) as batch_op:
        batch_op.create_index('ix_certifications_candidate_id', ['candidate_id'], unique=False)
    with op.batch_alter_table('credentials', schema=None) as batch_op:
        batch_op.create_index('ix_credentials_issued_at', ['issued_at'], unique=False)
    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_mail_outbox_due')
        batch_op.create_index('ix_mail_outbox_status', ['status'], unique=False)
        batch_op.create_index('ix_mail_outbox_next_attempt_at', ['next_attempt_at'], unique=False)
        batch_op.alter_column('body_text', existing_type=sa.Text(), nullable=False)
        batch_op.drop_column('context')
    with op.batch_alter_table('throttle_hits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_throttle_hits_expires_at'))
        batch_op.drop_index(batch_op.f('ix_throttle_hits_key'))
    op.drop_table('throttle_hits')
    with op.batch_alter_table('auth_tokens', schema=None) as batch_op:
        batch_op.drop_column('new_email')
    with op.batch_alter_table('issuer_state', schema=None) as batch_op:
        batch_op.drop_column('base_url')
