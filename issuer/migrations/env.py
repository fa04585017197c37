"""Alembic environment: runs on the connection the caller hands in (see issuer.db.Database)."""

from alembic import context

from issuer.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # `alembic` command line: use the URL from the config file
    from sqlalchemy import create_engine

    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise SystemExit("set sqlalchemy.url in alembic.ini, or run `certmanager init`")
    connection = create_engine(url).connect()

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
