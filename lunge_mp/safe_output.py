"""Every file lunge-mp writes goes through here: a path check before the run, an atomic write after.

What we write may only become a regular file: a path that is a FIFO, a socket, a device or a
folder is refused, and so is anything in /proc, /sys or /dev (kernel files look regular but
writing them changes the machine; /dev/shm, a plain tmpfs, is allowed). A symlink is followed
to the regular file it names (the link stays, its file is replaced); a link to nothing or a
loop is refused, never replaced.

The write itself goes to a temporary file that `tempfile.mkstemp` creates with O_EXCL in the
target's folder (never a predictable name another user could have placed a link at), then
renames over the target, so a reader sees the old file or the new one, never half of one.
The new file gets the old file's permission bits, or the usual 0666 less the umask.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile

#: kernel file systems: their files are interfaces, not storage (realpath prefixes)
KERNEL_ROOTS = ("/proc", "/sys", "/dev")
ALLOWED_UNDER_KERNEL_ROOTS = ("/dev/shm",)

_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))


class Refused(OSError):
    """A path we will not write; `strerror` says why (callers print `exc.strerror`)."""

    def __init__(self, message: str) -> None:
        super().__init__(errno.EPERM, message)


def _under(path: str, roots: tuple[str, ...]) -> str | None:
    return next((r for r in roots if path == r or path.startswith(r + "/")), None)


def kernel_fs_problem(path: str | os.PathLike[str], what: str = "") -> str | None:
    """The refusal of a path in /proc, /sys or /dev (as given or once links are followed)."""
    given = os.path.abspath(os.path.expanduser(os.fspath(path)))
    for p in (given, os.path.realpath(given)):
        root = _under(p, KERNEL_ROOTS)
        if root and not _under(p, ALLOWED_UNDER_KERNEL_ROOTS):
            return (f"{what + ': ' if what else ''}{os.fspath(path)} is in {root}, a kernel file system, "
                    f"not a place for a file; give a path in a normal folder")
    return None


def output_problem(path: str | os.PathLike[str], what: str = "") -> str | None:
    """Why `path` may not take a file we write (`what`: the flag or setting it came from, for
    the message), or None when it is a regular file or a new file in a writable folder."""
    label = f"{what}: " if what else ""
    given = os.path.abspath(os.path.expanduser(os.fspath(path)))
    real = os.path.realpath(given)
    problem = kernel_fs_problem(path, what)
    if problem:
        return problem
    try:
        st = os.stat(given)                        # follows links
    except FileNotFoundError:
        if os.path.islink(given):
            return f"{label}{path} is a symbolic link to nothing ({os.readlink(given)}); remove it or give another path"
        folder = os.path.dirname(real)
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
            return f"{label}cannot write {path}: {folder} is not a writable folder"
        return None
    except OSError as exc:                         # ELOOP, EACCES ...
        return f"{label}cannot use {path}: {exc.strerror or exc}"
    for test, kind in _KINDS:
        if test(st.st_mode):
            return f"{label}{path} is {kind}, not a regular file; give the path of a file to write"
    folder = os.path.dirname(real)
    if not os.access(folder, os.W_OK):
        return f"{label}cannot write {path}: {folder} is not a writable folder"
    return None


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` as the regular file at `path` (following a link to its file), atomically.
    Raises Refused when output_problem refuses the path, OSError when the write fails."""
    problem = output_problem(path)
    if problem:
        raise Refused(problem)
    target = os.path.realpath(os.path.abspath(os.path.expanduser(os.fspath(path))))
    folder, name = os.path.split(target)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    try:
        try:
            old = os.stat(target)
            mode = stat.S_IMODE(old.st_mode)
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            fd = -1
            f.write(data)
        os.replace(tmp, target)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
