"""Alembic environment: migrations run on the connection the application hands over."""
from alembic import context
from sqlalchemy import create_engine

from service.store.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:  # the alembic command line: use sqlalchemy.url or DATABASE_URL
        from service.store.db import default_url
        engine = create_engine(config.get_main_option("sqlalchemy.url") or default_url())
        with engine.begin() as conn:
            context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
            context.run_migrations()
        return
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    context.run_migrations()


run()
