"""Atomic outputs: write to a temporary name beside the target, then rename.

An interrupted stage therefore leaves either the previous output or none, never a
half-written file that DVC could cache as good. The process writing a temporary holds an
exclusive lock on it (flock, released by the kernel when the process dies, even by kill -9), so
that the temporaries a killed run left can be told from those being written, and removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
from pathlib import Path

from . import TradeoffError

MIN_FREE_BYTES = 64 * 2**20


def check_writable(*paths: str | Path, folder: bool = False) -> None:
    """Before the work, not after it: each output path can be written (its folder can be made
    and written to, with some free space) and is not a folder where a file goes, or the reverse."""
    for path in map(Path, paths):
        if path.exists() and path.is_dir() != folder:
            raise TradeoffError(f"{path}: is a {'file' if folder else 'folder'}; this output is a "
                                f"{'folder' if folder else 'file'}: move it away")
        folder_above = path.parent
        while not folder_above.exists():  # created only when the output is written
            folder_above = folder_above.parent
        if not folder_above.is_dir():
            raise TradeoffError(f"{folder_above}: is a file; {path} needs a folder there")
        if not os.access(folder_above, os.W_OK):
            raise TradeoffError(f"{folder_above}: not writable; outputs go there")
        _probe(folder_above)  # os.access says yes to root everywhere, read-only mounts included
        if shutil.disk_usage(folder_above).free < MIN_FREE_BYTES:
            raise TradeoffError(f"{folder_above}: the disk is full (under {MIN_FREE_BYTES >> 20} MiB free)")


def _probe(folder: Path) -> None:
    """Create and remove a file in `folder`: the one sure test that outputs can be written there."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-probe.", suffix=".tmp", dir=folder)
    except OSError as e:
        raise TradeoffError(f"{folder}: not writable ({e.strerror}); outputs go there") from None
    os.close(fd)
    with contextlib.suppress(FileNotFoundError):  # a sweeper took it for a killed run's
        os.unlink(probe)


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it
    os.umask(mask)
    return mask


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _unheld(path: Path) -> int | None:
    """An open descriptor of `path` holding its exclusive lock, or None while another process holds
    it (or where the file system has no locks: there nobody can tell, so nothing is swept)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def sweep_stale(folder: str | Path) -> None:
    """Remove the temporaries (`.*.tmp`) in `folder` that no living process holds: what a run
    killed mid-write left (a prepare killed with kill -9 left about 100 MB per output)."""
    for tmp in Path(folder).glob(".*.tmp"):
        fd = _unheld(tmp)
        if fd is not None:
            try:  # removed while locked, so that a creator locking it just now finds it gone
                _remove(tmp)
            finally:
                os.close(fd)


def _locked_new(make) -> tuple[Path, int]:
    """A new temporary made by `make()` (which returns its path) and a descriptor holding its lock.
    A sweeper may remove it between its creation and the lock: then another is made."""
    while True:
        tmp = Path(make())
        try:
            fd = os.open(tmp, os.O_RDONLY)
        except FileNotFoundError:
            continue
        with contextlib.suppress(OSError):  # no locks on this file system: then nothing sweeps it either
            fcntl.flock(fd, fcntl.LOCK_EX)
        with contextlib.suppress(FileNotFoundError):
            if os.stat(tmp).st_ino == os.fstat(fd).st_ino:
                return tmp, fd
        os.close(fd)


@contextlib.contextmanager
def _claimed(make):
    """A new temporary (see `_locked_new`), held by this process until the block ends."""
    tmp, fd = _locked_new(make)
    try:
        yield tmp
    finally:
        os.close(fd)


def _new_file(path: Path) -> str:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600: give the file the mode open() would
    return tmp


def _new_dir(path: Path) -> str:
    tmp = tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700: give the folder the mode mkdir() would
    return tmp


def write_text(path: str | Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(path.parent)
    with _claimed(lambda: _new_file(path)) as tmp:
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            _remove(tmp)
            raise


def write_json(path: str | Path, obj) -> None:
    """Refuses NaN and infinity (JSON has no such numbers, and a metric must never pretend one)."""
    try:
        text = json.dumps(obj, indent=2, sort_keys=False, allow_nan=False)
    except ValueError:
        raise TradeoffError(f"{path}: refusing to write a NaN or infinite number into it; "
                            "the value that produced it is broken (see the log above)") from None
    write_text(path, text + "\n")


def write_jsonl(path: str | Path, rows) -> None:
    write_text(path, "".join(json.dumps(r) + "\n" for r in rows))


@contextlib.contextmanager
def output_dir(path: str | Path):
    """Yield a temporary directory that replaces `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(path.parent)
    with _claimed(lambda: _new_dir(path)) as tmp:
        try:
            yield tmp
            old = path.with_name(f".{path.name}.old")
            if old.exists():
                shutil.rmtree(old)
            if path.exists():
                os.replace(path, old)
            os.replace(tmp, path)
            if old.exists():
                shutil.rmtree(old)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
