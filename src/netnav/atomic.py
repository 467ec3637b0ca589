"""Writing files so that a reader never sees half of one (guides, cohort chunks and reports).

Each file is written to a temporary name beside its target (``.<name>.<random>.tmp``, on the
same file system) and renamed over the target only when complete; on an error the temporary
file is removed and the target left as it was. A process killed mid-write leaves at most a
hidden ``*.tmp`` file, which :mod:`netnav.cohort.run` removes when it resumes.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

__all__ = ["replace_atomically", "write_files_atomically"]


def _temporary(target: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    os.chmod(name, 0o644)  # mkstemp makes 0600; outputs are ordinary files
    return Path(name)


def replace_atomically(target: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(temporary path)`` and rename the result over ``target``.

    Raises whatever ``write`` or the file system raises (``OSError``), after removing the
    temporary file.
    """
    tmp = _temporary(target)
    try:
        write(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_files_atomically(files: Mapping[str, bytes], out_dir: Path) -> list[Path]:
    """Write ``{name: bytes}`` into ``out_dir``: all are written first, then all renamed.

    Returns the paths written, in the order given. Raises ``OSError``; the temporary files
    are then removed and the existing files left as they were.
    """
    staged: list[tuple[Path, Path]] = []
    try:
        for name, data in files.items():
            target = out_dir / name
            tmp = _temporary(target)
            staged.append((tmp, target))
            tmp.write_bytes(data)
        for tmp, target in staged:
            os.replace(tmp, target)
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    return [target for _, target in staged]
