"""Transactions run straight on the DBAPI connection: the sale, the centre's hot path.

SQLAlchemy's ``Connection.execute`` spends 40-60 µs of Python on each statement (execution
context, result metadata, event dispatch) and a Session about as much again on each
transaction. A sale is four statements; where a commit costs 0.2 ms that overhead was larger
than the database's own work. Here each Core statement is compiled once per dialect — its SQL,
the order of its parameters and its column types' own conversions — and then run on a DBAPI
cursor, so every statement still has one definition, written with SQLAlchemy. On SQLite the
connection of the last committed transaction is kept for the next one instead of going back to
the pool (see :class:`Direct`).

Driver errors are re-raised as SQLAlchemy's (``IntegrityError``, ``OperationalError``, ...):
callers and :func:`rig.billing.busy.busy_error` treat both paths alike. Fault injection
(:mod:`rig.faults.billing_kill`) sees these statements and commits through :func:`observe`,
as it sees the ORM's through SQLAlchemy's events.
"""

from __future__ import annotations

import operator
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Engine, Executable, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

Observer = Callable[[], None]
_OBSERVERS: weakref.WeakKeyDictionary[Engine, list[Observer]] = weakref.WeakKeyDictionary()


def _notify(observers: Sequence[Observer]) -> None:
    for observer in observers:
        observer()


def observe(engine: Engine, observer: Observer) -> None:
    """Call ``observer`` after every direct statement, before each direct commit and after it
    (the points SQLAlchemy's ``after_cursor_execute``, ``commit`` and ``after_commit`` events
    mark on the ORM path)."""
    _OBSERVERS.setdefault(engine, []).append(observer)


class Prepared:
    """One Core statement compiled for one dialect, with its parameter and result conversions.

    Parameters are given by bind name; constant binds (``status == "created"``) are filled in
    once, here. A statement with an expanding ``IN`` cannot be prepared (it is re-rendered at
    every execution) and is refused.
    """

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
        self.sql = compiled.string
        self._positional = compiled.positional
        names = compiled.positiontup if compiled.positional else list(compiled.binds)
        assert names is not None
        # The DBAPI parameters with every constant bind (``status == "created"``) in place,
        # converted once; the names the caller gives, their first slots and the conversions of
        # those slots (a name the SQL uses twice is converted once and copied).
        self._template: list[Any] = []
        given: list[str] = []
        self._slots: list[int] = []  # of the given names, in order
        self._converting: list[tuple[int, Callable[[Any], Any]]] = []
        self._copies: list[tuple[int, int]] = []  # (slot, slot of the same name's value)
        first: dict[str, int] = {}
        for slot, name in enumerate(names):
            bind = compiled.binds[name]
            if bind.expanding:
                raise ValueError(f"cannot prepare an expanding IN (bind {name!r}): {self.sql}")
            convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if name in first:
                self._copies.append((slot, first[name]))
                self._template.append(None)
            elif bind.required:
                first[name] = slot
                given.append(name)
                self._slots.append(slot)
                if convert is not None:
                    self._converting.append((slot, convert))
                self._template.append(None)
            else:  # a constant: converted once
                value = bind.effective_value
                self._template.append(convert(value) if convert else value)
        self._names = names
        # The given values are taken in one C call (itemgetter); in the common case — every
        # slot given, each name once, in order — they are the parameters as they come.
        self._plain = len(given) == len(names) and not self._copies
        self._take = operator.itemgetter(*given) if len(given) > 1 else \
            (lambda values: tuple(values[n] for n in given))
        columns = list(getattr(statement, "exported_columns", ()))
        self.keys = [c.key for c in columns]
        processors = [c.type.dialect_impl(dialect).result_processor(dialect, None)
                      for c in columns]
        self._results = [(key, convert) for key, convert in zip(self.keys, processors,
                                                                 strict=True) if convert]

    def parameters(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        """The DBAPI parameters for ``values`` (bind name → Python value)."""
        taken = self._take(values)
        if self._plain:
            converted = list(taken)
        else:
            converted = self._template.copy()
            for slot, value in zip(self._slots, taken, strict=True):
                converted[slot] = value
        for slot, convert in self._converting:
            converted[slot] = convert(converted[slot])
        for slot, same in self._copies:
            converted[slot] = converted[same]
        if self._positional:
            return converted
        return dict(zip(self._names, converted, strict=True))

    def row(self, raw: Sequence[Any]) -> dict[str, Any]:
        """A fetched row as ``{column key: Python value}``."""
        row = dict(zip(self.keys, raw, strict=True))
        for key, convert in self._results:
            row[key] = convert(row[key])
        return row


class DirectTransaction:
    """One transaction on a DBAPI connection, as a context manager (see
    :meth:`Direct.transaction`): begun on entry, committed on a normal exit, rolled back when
    the block raises. A class, not a generator: a sale's two context managers were a few
    microseconds of its Python."""

    def __init__(self, direct: Direct) -> None:
        self._direct = direct
        self._observers = direct.observers
        try:
            # the connection kept from the last commit; pop() is atomic: two threads never
            # take the same one
            self._raw, self._dbapi, self._cursor = direct.kept.pop()
        except IndexError:
            self._raw = direct.engine.raw_connection()
            self._dbapi = self._raw.driver_connection
            assert self._dbapi is not None  # a checked-out connection has one
            self._cursor = self._dbapi.cursor()

    def __enter__(self) -> DirectTransaction:
        if self._direct.sqlite:
            try:
                self._cursor.execute("BEGIN IMMEDIATE")
            except BaseException as e:
                self._release(keep=False)
                if isinstance(e, self._direct.dbapi_error):
                    raise self._direct.wrap("BEGIN IMMEDIATE", (), e) from e
                raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 _tb: object) -> None:
        committed = False
        try:
            if kind is None:
                try:
                    _notify(self._observers)
                    if self._direct.sqlite:  # as it began: a statement the cursor has cached
                        self._cursor.execute("COMMIT")
                    else:
                        self._dbapi.commit()
                except self._direct.dbapi_error as e:
                    self._rollback()
                    raise self._direct.wrap("COMMIT", (), e) from e
                except BaseException:
                    self._rollback()
                    raise
                committed = True
                _notify(self._observers)
            else:
                self._rollback()
        finally:
            # committed: clean, ready for the next sale (SQLite keeps one such connection)
            self._release(keep=committed and self._direct.sqlite and not self._direct.kept)

    def _rollback(self) -> None:
        try:
            self._dbapi.rollback()
        except self._direct.dbapi_error:  # a dead connection: the pool must not reuse it
            self._raw.invalidate()

    def _release(self, *, keep: bool) -> None:
        if keep:
            self._direct.kept.append((self._raw, self._dbapi, self._cursor))
        else:
            self._cursor.close()
            self._raw.close()  # back to the pool (reset by a rollback)

    def execute(self, statement: Executable,
                values: Mapping[str, Any] | list[Mapping[str, Any]]) -> None:
        """Run ``statement`` once per mapping of ``values`` (one mapping: once)."""
        prepared = self._direct.prepared(cast(ClauseElement, statement))
        for each in values if isinstance(values, list) else [values]:
            self._run(prepared, each)

    def one(self, statement: Executable, values: Mapping[str, Any]) -> dict[str, Any] | None:
        """The first row of ``statement`` (a SELECT, or a DML with RETURNING), or None."""
        prepared = self._direct.prepared(cast(ClauseElement, statement))
        self._run(prepared, values)
        raw = self._cursor.fetchone()
        return prepared.row(raw) if raw is not None else None

    def _run(self, prepared: Prepared, values: Mapping[str, Any]) -> None:
        parameters = prepared.parameters(values)
        try:
            self._cursor.execute(prepared.sql, parameters)
        except self._direct.dbapi_error as e:
            raise self._direct.wrap(prepared.sql, parameters, e) from e
        _notify(self._observers)


class Direct:
    """Direct transactions over one engine, and its statements compiled once each."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        self.dbapi_error: type[Exception] = engine.dialect.loaded_dbapi.Error
        self.sqlite = engine.dialect.name == "sqlite"
        self._prepared: dict[int, tuple[ClauseElement, Prepared]] = {}
        # SQLite: the connection of the last committed transaction, kept checked out for the
        # next one (the pool's checkout, its rollback-on-return and checkin cost a sale as much
        # Python as its pricing); closed when the engine is disposed (the centre's close()).
        self.kept: list[tuple[Any, Any, Any]] = []  # (pool's connection, DBAPI one, cursor)
        # The engine's observers, the list observe() appends to (also after this is made).
        self.observers = _OBSERVERS.setdefault(engine, [])
        if self.sqlite:
            event.listen(engine, "engine_disposed", self._close_kept)

    def _close_kept(self, engine: Engine) -> None:
        while True:
            try:
                raw, _, _ = self.kept.pop()
            except IndexError:  # none, or taken by another thread meanwhile
                return
            raw.invalidate()  # its pool is gone: this closes the DBAPI connection

    def prepared(self, statement: ClauseElement) -> Prepared:
        # Keyed by identity: the hot path's statements are module constants, kept alive here.
        hit = self._prepared.get(id(statement))
        if hit is None or hit[0] is not statement:
            hit = self._prepared[id(statement)] = (statement, Prepared(statement, self.dialect))
        return hit[1]

    def wrap(self, sql: str | None, parameters: Any, e: Exception) -> BaseException:
        return DBAPIError.instance(sql, parameters, e, self.dbapi_error, dialect=self.dialect)

    def transaction(self) -> DirectTransaction:
        """A transaction (``with direct.transaction() as tx:``): committed if the block ends
        normally, rolled back if it raises; SQLite takes the write lock up front (``BEGIN
        IMMEDIATE``), as the engine's ORM transactions do.

        Stations that find the lock taken wait in SQLite's busy handler, which sleeps (1, 2,
        5 ms ...) between looks. A queue on a lock file that passed the lock on at once was
        tried and sold fewer vends a second with four stations, not more: each sale then
        followed another station's, and SQLite drops a connection's page cache whenever another
        connection has written, so every sale re-read its pages (0.5 ms more CPU a sale).
        """
        return DirectTransaction(self)
