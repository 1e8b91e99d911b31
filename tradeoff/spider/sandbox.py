"""Running untrusted SQL: read-only, authorised statement by statement, time- and size-capped,
in worker processes so that a crash or blow-up loses one query and not the run.

Layers, each enough on its own for the common attacks:
- the database is opened read-only through a URI (`mode=ro`) and `PRAGMA query_only` is set;
- SQLite's authorizer allows reading and selecting only: writes, schema changes, ATTACH (which
  `VACUUM INTO` needs too), PRAGMA, transactions and `load_extension` are refused;
- a progress handler inside SQLite stops the query once its time budget is spent, and, for a
  query that stays inside one long call where that handler never runs, the parent kills the
  worker at the budget plus `KILL_MARGIN_S` and starts another: no query outlives its limit by
  more than about a second;
- results are capped in rows and in bytes (counted in the worker, which stops early), SQLite's
  heap is capped, and so is each worker's address space;
- a worker dies with the process that started it.
"""

from __future__ import annotations

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
MAX_RESULT_BYTES = 32 * 2**20  # what a result may weigh on its way back to the scorer
KILL_MARGIN_S = 0.5  # past its budget, a query's worker is killed
MAX_TIMEOUT_S = 86_400.0  # a day: a longer budget overflows the operating system's waits
# seconds per query unless told otherwise: the pipeline's eval_sql.timeout_s in params.yaml, so that
# `python -m tradeoff.sql_eval` scores as the eval_sql stage does (tests/test_sql_eval.py keeps them equal)
DEFAULT_TIMEOUT_S = 10.0
MAX_WORKERS_PER_CPU = 4  # more only share the same cores, and each costs its memory up front

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
    try:
        con.execute("SELECT count(*) FROM sqlite_master")  # a file that is no database fails here, not in a query
    except sqlite3.Error:
        con.close()
        raise
    # the official evaluation decodes text this way; so do we
    con.text_factory = lambda b: b.decode("utf-8", errors="ignore")
    con.execute("PRAGMA query_only = 1")
    con.execute(f"PRAGMA hard_heap_limit = {HEAP_LIMIT_BYTES}")
    if hasattr(con, "setlimit"):
        con.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
        con.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
    con.set_authorizer(_authorizer)
    return con


def _weight(value) -> int:
    """About what one value of a result row costs to send back (text and blobs by length)."""
    return len(value) + 8 if isinstance(value, (str, bytes)) else 8


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
        size = 0
        while True:
            batch = cur.fetchmany(1000)
            if not batch:
                break
            rows.extend(batch)
            if len(rows) > max_rows:
                return Outcome(None, f"too many rows (> {max_rows})", time.monotonic() - start)
            size += sum(_weight(v) for row in batch for v in row)
            if size > MAX_RESULT_BYTES:
                return Outcome(None, f"result too large (> {MAX_RESULT_BYTES} bytes)", time.monotonic() - start)
        return Outcome(rows, None, time.monotonic() - start)
    except (sqlite3.Error, sqlite3.Warning, MemoryError, OverflowError, ValueError) as e:
        error = "timeout" if timed_out else f"{type(e).__name__}: {e}"
        if str(e) == "not authorized":
            # the authorizer's refusal surfaces as OperationalError or DatabaseError from run to run
            error = "not authorized: refused by the sandbox"
        return Outcome(None, error, time.monotonic() - start)
    finally:
        con.set_progress_handler(None, 0)


def execute(db_path: str | Path, sql: str, timeout_s: float = DEFAULT_TIMEOUT_S, max_rows: int = MAX_ROWS) -> Outcome:
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


def execute_in_worker(db_path: str, sql: str, timeout_s: float = DEFAULT_TIMEOUT_S, max_rows: int = MAX_ROWS) -> Outcome:
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


def _die_with_parent() -> None:
    """Make this worker end when the scorer ends, even by SIGKILL: Linux's parent-death signal,
    and elsewhere a thread that watches for the parent to go."""
    import signal
    import threading

    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _run_task(task, args) -> Outcome:
    """One query's outcome; an exception of the evaluator itself on this query (e.g. a rewrite
    parser giving up on a 150-deep nesting of parentheses) fails this query, not the whole run."""
    try:
        return task(args)
    except Exception as e:  # noqa: BLE001: hostile input may break any library on the way
        return Outcome(None, f"evaluator error: {type(e).__name__}: {e}")


def _execute_task(args):
    return execute_in_worker(*args)


def _worker_main(conn, task) -> None:
    """A worker: receive one task's arguments, send back its outcome, until told to stop."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the scorer's to handle; it ends the workers
    _die_with_parent()
    _limit_worker_memory()
    while True:
        try:
            args = conn.recv()
        except (EOFError, OSError):
            return
        if args is None:
            return
        out = _run_task(task, args)
        try:
            conn.send(out)
        except Exception as e:  # noqa: BLE001: a result that cannot travel fails this query only
            conn.send(Outcome(None, f"result could not be sent back: {type(e).__name__}", out.seconds))


class _Worker:
    def __init__(self, ctx, task):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, task), daemon=True)
        self.process.start()
        child.close()

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.process.kill()
        else:
            try:
                self.conn.send(None)
            except OSError:
                pass
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


def pool_size(requested: int | None, jobs: int | None = None) -> int:
    """Worker processes to start: as many as asked (all cores by default), but no more than
    MAX_WORKERS_PER_CPU per core, nor than there are jobs to run."""
    cpus = os.cpu_count() or 1
    size = min(requested or cpus, MAX_WORKERS_PER_CPU * cpus)
    if requested and size < requested:
        log.info("SQL workers: %d asked, %d at most (%d per core)", requested, size, MAX_WORKERS_PER_CPU)
    return size if jobs is None else min(size, jobs)


class Executor:
    """Runs queries in worker processes, one query per worker at a time. A worker that dies, or
    that a query keeps past its budget plus KILL_MARGIN_S, costs only that query: it is replaced
    and the run goes on, in order."""

    def __init__(self, workers: int | None = None, timeout_s: float = DEFAULT_TIMEOUT_S, max_rows: int = MAX_ROWS,
                 task=_execute_task, jobs: int | None = None):
        if not 0 < timeout_s <= MAX_TIMEOUT_S:
            raise ValueError(f"timeout_s = {timeout_s}: not in (0, {MAX_TIMEOUT_S:g}] seconds")
        self.workers = pool_size(workers, jobs)  # `jobs`: how many this executor will run, if known
        self.task = task  # a module-level function of (db, sql, timeout_s, max_rows, *extra)
        self.timeout_s = timeout_s
        self.max_rows = max_rows
        # spawn: workers start clean, without the parent's torch threads or open databases
        self._ctx = multiprocessing.get_context("spawn")
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()  # idle or busy: all are stopped on exit

    def __enter__(self):
        self._idle = [self._start() for _ in range(self.workers)]
        return self

    def __exit__(self, *exc):
        for w in self._all:
            w.stop(kill=w not in self._idle)
        self._idle, self._all = [], set()

    def _start(self) -> _Worker:
        worker = _Worker(self._ctx, self.task)
        self._all.add(worker)
        return worker

    def map(self, jobs: list[tuple[str | Path, str]], *extra, progress=None) -> list[Outcome]:
        """Outcomes for (database path, sql) jobs, in order. `extra` values are appended to each
        task's arguments (for a task other than the default); `progress` (a tqdm bar) moves by one
        as each job ends."""
        from collections import deque
        from multiprocessing.connection import wait

        assert self._idle or not jobs, "use Executor as a context manager"
        pending = deque((i, (str(db), sql, self.timeout_s, self.max_rows, *extra)) for i, (db, sql) in enumerate(jobs))
        results: list[Outcome | None] = [None] * len(jobs)
        busy: dict = {}  # connection -> (worker, job index, start)
        limit = self.timeout_s + KILL_MARGIN_S
        while pending or busy:
            while pending and self._idle:
                worker = self._idle.pop()
                i, args = pending.popleft()
                worker.conn.send(args)
                busy[worker.conn] = (worker, i, time.monotonic())
            first_deadline = min(start for _, _, start in busy.values()) + limit
            for conn in wait(list(busy), timeout=max(0.0, first_deadline - time.monotonic())):
                worker, i, start = busy.pop(conn)
                try:
                    results[i] = conn.recv()
                    self._idle.append(worker)
                except (EOFError, OSError):  # the worker died (a crash, its memory cap)
                    results[i] = Outcome(None, "worker process crashed", time.monotonic() - start)
                    self._replace(worker)
                except Exception as e:  # noqa: BLE001: whatever breaks on the way back costs this query
                    results[i] = Outcome(None, f"result could not be received: {type(e).__name__}",
                                         time.monotonic() - start)
                    self._replace(worker)
                if progress is not None:
                    progress.update(1)
            now = time.monotonic()
            for conn, (worker, i, start) in list(busy.items()):
                if now - start > limit:  # stuck where SQLite's progress handler cannot stop it
                    del busy[conn]
                    results[i] = Outcome(None, "timeout", now - start)
                    self._replace(worker)
                    if progress is not None:
                        progress.update(1)
        return results  # type: ignore[return-value]

    def _replace(self, worker: _Worker) -> None:
        worker.stop(kill=True)
        self._all.discard(worker)
        self._idle.append(self._start())
