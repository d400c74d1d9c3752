"""Alembic's entry point, configured by ``bot.storage.migrate`` rather than an ini file.

``Store.upgrade`` hands over an open connection (already inside a locked transaction) in
``config.attributes["connection"]``. For developers generating a revision with the
``alembic`` command, a ``sqlalchemy.url`` main option works too.
"""

from __future__ import annotations

import importlib
import pkgutil

from alembic import context
from sqlalchemy import Connection, create_engine

import bot.storage
from bot.errors import StorageError
from bot.storage.schema import metadata

config = context.config

# Some tables are declared beside the code that uses them; autogenerate must see them all.
for _module in pkgutil.iter_modules(bot.storage.__path__, "bot.storage."):
    if _module.name != "bot.storage.migrations":
        importlib.import_module(_module.name)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise StorageError("PolicyBot's migrations run online only: use `policybot db upgrade`.")

given = config.attributes.get("connection")
if given is not None:
    _run(given)
else:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise StorageError("No database given to the migrations: use `policybot db upgrade`.")
    engine = create_engine(url)
    with engine.begin() as connection:
        _run(connection)
    engine.dispose()
