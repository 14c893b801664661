"""Atomic writes: a crash mid-write leaves the previous version whole;
`printable`, for file names in what keras-gans prints; and reading the JSON
files of presets and exports, without Keras (`keras-gans list` reads them).
"""

import contextlib
import ctypes
import errno
import glob
import json
import os
import shutil
import tempfile

# The files of a preset directory (and `metadata.json` of an export).
METADATA_FILE = "metadata.json"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"


def printable(text):
    """`text` with control characters (ANSI escapes, newlines) shown escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path beside `path`; moves it into place on success.

    Works for a file or a directory written at the temporary path. A file is
    replaced with one rename, a directory is exchanged with the previous one
    in one step (Linux `renameat2`), so readers always find a whole version.
    On an exception `path` is left untouched and the error names `path`.
    Temporary paths left by a process killed mid-write are removed by the
    next write, after restoring `path` if the kill fell inside a swap.

    Args:
        path: the file or directory to write.

    Example:

    ```python
    with atomic_path("run/history.json") as tmp, open(tmp, "w") as f:
        json.dump(history, f)
    ```
    """
    path = os.path.abspath(path)
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    name = os.path.basename(path)
    suffix = os.path.splitext(name)[1]
    _remove_stale_temps(path)
    tmp_dir = tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=parent)
    tmp = os.path.join(tmp_dir, "new" + suffix)
    try:
        yield tmp
        if os.path.isdir(tmp) and os.path.isdir(path):
            _swap_directories(tmp, path, os.path.join(tmp_dir, "old"))
        else:
            os.replace(tmp, path)
    except OSError as error:
        kept = "; its previous version is intact" if os.path.exists(path) else ""
        message = f"writing {path}: {error.strerror or error}{kept}"
        # OSError(errno, ...) is the errno's subclass, e.g. PermissionError.
        raise (OSError(error.errno, message) if error.errno else OSError(message)) from error
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def _remove_stale_temps(path):
    """Removes the temporary paths of killed writes to `path`, first moving
    back a directory that a kill left out of place in the middle of a swap."""
    parent, name = os.path.split(path)
    for stale in glob.glob(os.path.join(glob.escape(parent), f".{glob.escape(name)}.tmp-*")):
        new = os.path.join(stale, "new" + os.path.splitext(name)[1])
        old = os.path.join(stale, "old")
        if not os.path.exists(path) and os.path.isdir(old) and os.path.isdir(new):
            os.rename(new, path)  # written whole before the old one was moved
        shutil.rmtree(stale, ignore_errors=True)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _swap_directories(new, path, old):
    """Puts directory `new` at `path`, leaving the previous one at `new`: one
    atomic exchange where the system has it, else two renames (`path` moved to
    `old`, then `new` to `path`) that a failure undoes."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is not None:
        if renameat2(_AT_FDCWD, os.fsencode(new), _AT_FDCWD, os.fsencode(path),
                     _RENAME_EXCHANGE) == 0:
            return
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise OSError(code, os.strerror(code), path)
    os.rename(path, old)
    try:
        os.rename(new, path)
    except OSError:
        os.rename(old, path)
        raise


def save_model_atomically(model, path):
    """`model.save(path)` through a temporary file and an atomic rename."""
    with atomic_path(path) as tmp:
        model.save(tmp)


def is_preset(path):
    return os.path.isfile(os.path.join(path, CONFIG_FILE))


def read_json_object(path):
    """The JSON object in file `path`, as a dict.

    Raises:
        ValueError: naming the file, when it is not readable or not a JSON object.
    """
    try:
        with open(path) as f:
            value = json.load(f)
    except (OSError, ValueError) as error:
        raise ValueError(f"{path} is not readable JSON ({error}).") from None
    if not isinstance(value, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
        raise ValueError(f"{path} holds {kind.get(type(value), 'a number')}, not a JSON "
                         "object.")
    return value


def read_metadata(path):
    """The `metadata.json` in directory `path` as a dict; `{}` if there is none.

    Raises:
        ValueError: naming the file, when it is not a JSON object.
    """
    metadata_path = os.path.join(path, METADATA_FILE)
    if not os.path.lexists(metadata_path):
        return {}
    return read_json_object(metadata_path)
