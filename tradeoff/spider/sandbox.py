"""Running untrusted SQL: read-only, authorised statement by statement, time- and size-capped,
in worker processes so that a crash or blow-up loses one query and not the run.

Layers, each enough on its own for the common attacks:
- the database is opened read-only through a URI (`mode=ro`) and `PRAGMA query_only` is set;
- SQLite's authorizer allows reading and selecting only: writes, schema changes, ATTACH (which
  `VACUUM INTO` needs too), PRAGMA, transactions and `load_extension` are refused;
- a progress handler inside SQLite stops the query once its time budget is spent;
- results are capped in rows, SQLite's heap is capped, and so is each worker's address space.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

log = logging.getLogger(__name__)

MAX_ROWS = 100_000
HEAP_LIMIT_BYTES = 512 * 2**20
WORKER_ADDRESS_SPACE_BYTES = 4 * 2**30
MAX_VALUE_BYTES = 10**7  # longest string or blob a query may build

_ALLOWED = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
_DENIED_FUNCTIONS = {"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"}


@dataclass(frozen=True)
class Outcome:
    rows: list[tuple] | None  # None when the query failed
    error: str | None = None  # "timeout", "too many rows", or SQLite's message
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.rows is not None


def _authorizer(action, arg1, arg2, db_name, trigger):
    if action not in _ALLOWED:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in _DENIED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def open_readonly(db_path: str | Path) -> sqlite3.Connection:
    uri = f"file:{quote(str(Path(db_path).resolve()))}?mode=ro"
    con = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    # the official evaluation decodes text this way; so do we
    con.text_factory = lambda b: b.decode("utf-8", errors="ignore")
    con.execute("PRAGMA query_only = 1")
    con.execute(f"PRAGMA hard_heap_limit = {HEAP_LIMIT_BYTES}")
    if hasattr(con, "setlimit"):
        con.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
        con.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
    con.set_authorizer(_authorizer)
    return con


def _run(con: sqlite3.Connection, sql: str, timeout_s: float, max_rows: int, start: float) -> Outcome:
    deadline = start + timeout_s
    timed_out = False

    def progress():
        nonlocal timed_out
        if time.monotonic() > deadline:
            timed_out = True
            return 1  # non-zero interrupts the statement
        return 0

    con.set_progress_handler(progress, 1000)
    try:
        cur = con.execute(sql)
        rows: list[tuple] = []
        while True:
            batch = cur.fetchmany(1000)
            if not batch:
                break
            rows.extend(batch)
            if len(rows) > max_rows:
                return Outcome(None, f"too many rows (> {max_rows})", time.monotonic() - start)
        return Outcome(rows, None, time.monotonic() - start)
    except (sqlite3.Error, sqlite3.Warning, MemoryError, OverflowError, ValueError) as e:
        error = "timeout" if timed_out else f"{type(e).__name__}: {e}"
        return Outcome(None, error, time.monotonic() - start)
    finally:
        con.set_progress_handler(None, 0)


def execute(db_path: str | Path, sql: str, timeout_s: float = 30.0, max_rows: int = MAX_ROWS) -> Outcome:
    """Run one query in this process under every cap above, on a connection of its own."""
    start = time.monotonic()
    try:
        con = open_readonly(db_path)
    except sqlite3.Error as e:
        return Outcome(None, f"cannot open database: {e}", time.monotonic() - start)
    try:
        return _run(con, sql, timeout_s, max_rows, start)
    finally:
        con.close()


_WORKER_CONNECTIONS: dict[str, sqlite3.Connection] = {}


def execute_in_worker(db_path: str, sql: str, timeout_s: float = 30.0, max_rows: int = MAX_ROWS) -> Outcome:
    """`execute`, keeping one read-only connection per database open for the worker's lifetime
    (opening one costs as much as a small Spider query). The authorizer forbids transactions and
    writes, so one query cannot leave state behind for the next."""
    start = time.monotonic()
    con = _WORKER_CONNECTIONS.get(db_path)
    if con is None:
        try:
            con = _WORKER_CONNECTIONS[db_path] = open_readonly(db_path)
        except sqlite3.Error as e:
            return Outcome(None, f"cannot open database: {e}", time.monotonic() - start)
    return _run(con, sql, timeout_s, max_rows, start)


def _limit_worker_memory() -> None:
    try:
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (WORKER_ADDRESS_SPACE_BYTES, WORKER_ADDRESS_SPACE_BYTES))
    except (ImportError, ValueError, OSError):  # not on every platform; SQLite's heap cap still holds
        pass


def _execute_task(args):
    return execute_in_worker(*args)


def _run_task(task, args) -> Outcome:
    """One query's outcome; an exception of the evaluator itself on this query (e.g. a rewrite
    parser giving up on a 150-deep nesting of parentheses) fails this query, not the whole run."""
    try:
        return task(args)
    except Exception as e:  # noqa: BLE001: hostile input may break any library on the way
        return Outcome(None, f"evaluator error: {type(e).__name__}: {e}")


def _execute_chunk(task, chunk):
    return [_run_task(task, args) for args in chunk]


class Executor:
    """Runs queries in a pool of worker processes; a worker that dies costs only its own query."""

    def __init__(self, workers: int | None = None, timeout_s: float = 30.0, max_rows: int = MAX_ROWS,
                 task=_execute_task):
        self.workers = workers or os.cpu_count() or 1
        self.task = task  # a module-level function of (db, sql, timeout_s, max_rows, *extra)
        self.timeout_s = timeout_s
        self.max_rows = max_rows
        self._pool: cf.ProcessPoolExecutor | None = None

    def _new_pool(self, workers: int) -> cf.ProcessPoolExecutor:
        # spawn: workers start clean, without the parent's torch threads or open databases
        ctx = multiprocessing.get_context("spawn")
        return cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_limit_worker_memory)

    def __enter__(self):
        self._pool = self._new_pool(self.workers)
        return self

    def __exit__(self, *exc):
        if self._pool:
            self._pool.shutdown(cancel_futures=True)
        self._pool = None

    def map(self, jobs: list[tuple[str | Path, str]], *extra) -> list[Outcome]:
        """Outcomes for (database path, sql) jobs, in order. `extra` values are appended to each
        task's arguments (for a task other than the default)."""
        assert self._pool is not None, "use Executor as a context manager"
        tasks = [(str(db), sql, self.timeout_s, self.max_rows, *extra) for db, sql in jobs]
        results: list[Outcome | None] = [None] * len(tasks)
        # chunks amortise the inter-process round trip, which costs more than a small query
        size = max(1, min(64, len(tasks) // (self.workers * 8)))
        chunks = [list(range(i, min(i + size, len(tasks)))) for i in range(0, len(tasks), size)]
        futures = {self._pool.submit(_execute_chunk, self.task, [tasks[i] for i in c]): c for c in chunks}
        broken = []
        for fut in cf.as_completed(futures):
            idx = futures[fut]
            try:
                for i, out in zip(idx, fut.result()):
                    results[i] = out
            except cf.process.BrokenProcessPool:
                broken.extend(idx)
        if broken:
            # A worker died (crash, memory). Every chunk in flight failed with it: rerun each query
            # alone in a fresh one-worker pool to tell the culprit from the bystanders.
            self._pool.shutdown(cancel_futures=True)
            for i in sorted(broken):
                solo = self._new_pool(1)
                try:
                    results[i] = solo.submit(_run_task, self.task, tasks[i]).result()
                except cf.process.BrokenProcessPool:
                    results[i] = Outcome(None, "worker process crashed")
                finally:
                    solo.shutdown(cancel_futures=True)
            self._pool = self._new_pool(self.workers)
        return results  # type: ignore[return-value]
