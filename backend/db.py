"""Database plumbing: the declarative `Base`, engines, sessions and schema creation.

`Base` is shared by every ORM table of resto (the restaurant tables in `backend.models`, the
agent's session log tables elsewhere), so one `create_schema` makes them all.

SQLite specifics live here and only here: foreign keys on, WAL (readers never block the writer),
a busy timeout so a database locked by another process waits and then fails with a clear error,
and `BEGIN IMMEDIATE` for write sessions, so a booking's read-check-insert runs under the write
lock instead of failing half-way when two processes upgrade their read locks at the same time.
The service layer only says `session_scope(engine, write=True)`; on other databases that is a
plain transaction and the reservation table's unique constraint prevents overbooking.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session

from backend.errors import UserError

SEED_SQL = Path(__file__).resolve().parent.parent / "seed_db.sql"
BUSY_TIMEOUT_MS = 10_000  # how long a write waits for another process's lock before giving up
_WRITE_OPTION = "resto_write"


class Base(DeclarativeBase):
    """Declarative base of every resto table."""


class DatabaseBusyError(UserError):
    """The database stayed locked by another process longer than the busy timeout."""


def to_url(value: str | Path) -> str:
    """A database URL, or a SQLite file path turned into one."""
    text = str(value)
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str | Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Engine:
    """An engine for `url` (a URL or a SQLite path). SQLite files get their folder created."""
    url = to_url(url)
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    path = url.split("///", 1)[1] if "///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # noqa: ANN001
        # Take transaction control away from the sqlite3 module so BEGIN is ours (see `_on_begin`).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        if path and path != ":memory:":
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # noqa: ANN001
        write = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


@contextmanager
def session_scope(engine: Engine, *, write: bool = False, commit: bool = True) -> Iterator[Session]:
    """A session in one transaction: committed when the block ends (rolled back with `commit=False`,
    e.g. for dry runs, or on any exception). `write=True` asks for the write lock up front."""
    session = Session(engine, expire_on_commit=False)
    try:
        if write:
            session.connection(execution_options={_WRITE_OPTION: True})
        yield session
        if commit:
            session.commit()
        else:
            session.rollback()
    except OperationalError as exc:
        session.rollback()
        if "locked" in str(exc).lower() or "busy" in str(exc).lower():
            raise DatabaseBusyError(
                "The database is locked by another process (still busy after "
                f"{BUSY_TIMEOUT_MS // 1000} s); try again in a moment."
            ) from exc
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def create_schema(engine: Engine, *, seed_sql: Path = SEED_SQL) -> None:
    """Create every table. SQLite runs the committed `seed_db.sql` (schema + reference data); any
    table of `Base` it does not define (e.g. the session log) is then created from the ORM. Other
    databases get the ORM schema; reference data is inserted by `backend.reference`."""
    import backend.models  # noqa: F401  (registers the tables on Base)

    if is_sqlite(engine):
        script = seed_sql.read_text(encoding="utf-8")
        raw = engine.raw_connection()
        try:
            existing = set(inspect(engine).get_table_names())
            if "restaurants" not in existing:
                raw.driver_connection.executescript(script)
        finally:
            raw.close()
    Base.metadata.create_all(engine, checkfirst=True)
    if not is_sqlite(engine):
        from backend.models import insert_reference_data

        with session_scope(engine) as session:
            insert_reference_data(session)
