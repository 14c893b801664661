"""Atomic writes: a crash mid-write leaves the previous version whole."""

import contextlib
import glob
import os
import shutil
import tempfile


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path beside `path`; renames it into place on success.

    Works for a file or a directory written at the temporary path. On an
    exception the temporary path is removed and `path` is left untouched;
    temporary paths left by a process killed mid-write are removed by the next
    write.
    """
    path = os.path.abspath(path)
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    name = os.path.basename(path)
    suffix = os.path.splitext(name)[1]
    for stale in glob.glob(os.path.join(glob.escape(parent), f".{glob.escape(name)}.tmp-*")):
        shutil.rmtree(stale, ignore_errors=True)  # left by a process killed mid-write
    tmp_dir = tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=parent)
    tmp = os.path.join(tmp_dir, "new" + suffix)
    try:
        yield tmp
        if os.path.isdir(tmp) and os.path.isdir(path):
            old = os.path.join(tmp_dir, "old")
            os.rename(path, old)
            os.rename(tmp, path)
        else:
            os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def save_model_atomically(model, path):
    """`model.save(path)` through a temporary file and an atomic rename."""
    with atomic_path(path) as tmp:
        model.save(tmp)
