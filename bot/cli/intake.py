"""The CLI's three ways to name a change: a diff file, a git range, or plain paths.

Each yields ChangedFile records and a way to read the new bytes of a path.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path

from bot.core.diff import decode_diff, parse_diff
from bot.core.globs import normalise
from bot.errors import IntakeError
from bot.model import Change, ChangedFile, FileStatus, Reader


def _working_tree_reader(root: Path) -> Reader:
    def read(path: str) -> bytes:
        try:
            return (root / path).read_bytes()
        except OSError as exc:
            raise IntakeError(
                f"{root / path}: cannot read the new contents "
                f"({exc.strerror}); use --root to say where the tree is"
            ) from None

    return read


def from_diff(data: bytes, root: Path) -> Change:
    return Change(parse_diff(decode_diff(data)), _working_tree_reader(root))


def _git(root: Path, *args: str, stdin: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args], input=stdin, capture_output=True, check=False
        )
    except FileNotFoundError:
        raise IntakeError("git is not installed") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip()
        raise IntakeError(f"git {' '.join(args)}: {message}")
    return done.stdout


def from_git(spec: str, root: Path, wanted: Callable[[str], bool] | None = None) -> Change:
    """``A..B`` (``A..`` means up to HEAD): the diff, the new contents and the base contents
    all come from git. Blobs are read only for paths ``wanted`` accepts (default: all)."""
    if ".." not in spec or "..." in spec:
        raise IntakeError(f"--git expects a range A..B, got {spec!r}")
    base, head = spec.split("..", 1)
    head = head or "HEAD"
    for rev in (base, head):
        _git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    diff = _git(root, "diff", "--no-color", "--no-ext-diff", "-M", f"{base}..{head}", "--")
    files = parse_diff(decode_diff(diff))
    keep = wanted or (lambda _path: True)
    files_read = [f for f in files if keep(f.path) and f.status is not FileStatus.binary]
    # Deleted files have no new side, added files no base side: pull only real blobs.
    heads = [f.path for f in files_read if f.status is not FileStatus.deleted]
    bases = [b for f in files_read if (b := f.base_path) is not None]
    return Change(
        files, _git_blob_reader(root, head, heads), read_base=_git_blob_reader(root, base, bases)
    )


def _git_blob_reader(root: Path, rev: str, paths: Iterable[str]) -> Reader:
    """Read every blob in one `git cat-file --batch` call, not one process per file, on
    the first read: a review that never needs the base side never runs it."""
    wanted = list(paths)
    cache: dict[str, bytes] | None = None

    def load() -> dict[str, bytes]:
        blobs: dict[str, bytes] = {}
        if not wanted:
            return blobs
        out = _git(
            root, "cat-file", "--batch", stdin="".join(f"{rev}:{p}\n" for p in wanted).encode()
        )
        pos = 0
        for path in wanted:
            end = out.index(b"\n", pos)
            header = out[pos:end].split()
            pos = end + 1
            if len(header) == 3:
                size = int(header[2])
                blobs[path] = out[pos : pos + size]
                pos += size + 1
        return blobs

    def read(path: str) -> bytes:
        nonlocal cache
        if cache is None:
            cache = load()
        if path not in cache:
            raise IntakeError(f"{rev}:{path} is not in git")
        return cache[path]

    return read


def _walk(target: Path) -> Iterable[Path]:
    # Like the ast-grep CLI, skip hidden directories (.git, .venv, .tox, ...).
    for dirpath, dirnames, filenames in os.walk(target):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            yield Path(dirpath) / name


def from_paths(targets: Iterable[str], root: Path) -> Change:
    """Whole files or directories (relative to the current directory, as for
    `ast-grep scan`), analysed as if every line were new. Paths in findings are
    relative to ``root``."""
    files: list[ChangedFile] = []
    seen: set[str] = set()
    for target in targets:
        full = Path(target)
        if not full.exists():
            raise IntakeError(f"{target}: no such file or directory")
        for file in _walk(full) if full.is_dir() else [full]:
            try:
                rel = normalise(str(file.resolve().relative_to(root.resolve())))
            except ValueError:
                rel = normalise(str(file))
            if rel not in seen:
                seen.add(rel)
                files.append(ChangedFile(rel, FileStatus.modified, whole_file=True))
    return Change(files, _working_tree_reader(root))
