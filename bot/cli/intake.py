"""The CLI's three ways to name a change: a diff file, a git range, or plain paths.

Each yields ChangedFile records and a way to read the new bytes of a path.
"""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from bot.core.diff import HunkLines, decode_diff, parse_diff, parse_diff_hunks
from bot.core.globs import normalise
from bot.core.text import split_lines
from bot.errors import IntakeError
from bot.model import Change, ChangedFile, FileStatus, Reader

Wanted = Callable[[str], bool]


def _inside(root: Path, path: str) -> Path:
    """``root / path``, refused when it resolves outside ``root`` (through ``..``, an
    absolute path or a symbolic link): a diff must not make us read /etc."""
    full = root / path
    resolved = full.resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise IntakeError(
            f"{path}: outside --root {root} (it resolves to {resolved}); not reading it"
        )
    return full


def _working_tree_reader(root: Path) -> Reader:
    def read(path: str) -> bytes:
        full = _inside(root, path)
        try:
            # Non-blocking, so that a FIFO is refused rather than waited on.
            fd = os.open(full, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            raise IntakeError(
                f"{full}: cannot read the new contents "
                f"({exc.strerror}); use --root to say where the tree is"
            ) from None
        with os.fdopen(fd, "rb") as file:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise IntakeError(f"{full}: not a regular file")
            return file.read()

    return read


def from_diff(data: bytes, root: Path, wanted: Wanted | None = None) -> Change:
    """A diff, with the new contents from the tree at ``root``. The files ``wanted``
    accepts (default: all) are read at once, to warn when the tree is not the version
    the diff was made for."""
    files, hunks = parse_diff_hunks(decode_diff(data))
    for f in files:
        for path in (f.path, f.old_path):
            if path is not None:
                _inside(root, path)
    read = _working_tree_reader(root)
    keep = wanted or (lambda _path: True)
    cache: dict[str, bytes] = {}
    for f in files:
        if f.status not in (FileStatus.deleted, FileStatus.binary) and keep(f.path):
            with contextlib.suppress(IntakeError):  # said when the review reads it, if it does
                cache[f.path] = read(f.path)
    warnings = tuple(_mismatches(hunks, cache, root))

    def cached(path: str) -> bytes:
        return cache[path] if path in cache else read(path)

    return Change(files, cached, warnings=warnings)


def _mismatches(hunks: list[HunkLines], contents: dict[str, bytes], root: Path) -> Iterator[str]:
    """One warning per file whose hunks do not match its contents under ``root``."""
    lines = {path: split_lines(decode_diff(data)) for path, data in contents.items()}
    by_path: dict[str, list[tuple[HunkLines, int]]] = {}
    for hunk in hunks:
        if hunk.path in lines:
            line = hunk.first_mismatch(lines[hunk.path])
            if line is not None:
                by_path.setdefault(hunk.path, []).append((hunk, line))
    for path, bad in by_path.items():
        hunk, line = bad[0]
        more = f" (and {len(bad) - 1} more of its hunks)" if len(bad) > 1 else ""
        yield (
            f"{path}:{line}: differs from the diff's hunk at line {hunk.header_line} "
            f"({hunk.header}){more}: the diff was made against another version of the file "
            f"than the one under --root {root}, so findings may be on the wrong lines"
        )


def _git_run(root: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            ["git", "-C", str(root), *args], input=stdin, capture_output=True, check=False
        )
    except FileNotFoundError:
        raise IntakeError("git is not installed") from None


def _git(root: Path, *args: str, stdin: bytes | None = None) -> bytes:
    done = _git_run(root, *args, stdin=stdin)
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip()
        raise IntakeError(f"git {' '.join(args)}: {message}")
    return done.stdout


def _commit(root: Path, spec: str, rev: str) -> str:
    """The commit ``rev`` names, or an error that says which side of ``spec`` is wrong."""
    done = _git_run(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip()  # not a repository, say
        raise IntakeError(f"--git {spec}: {message or f'unknown revision {rev!r}'}")
    return done.stdout.decode().strip()


def from_git(spec: str, root: Path, wanted: Wanted | None = None) -> Change:
    """``A..B`` or ``A...B`` (either side left out means HEAD, as for git): the diff,
    the new contents and the base contents all come from git. ``A...B`` compares B with
    the merge base of A and B, which is what a pull request shows. Blobs are read only
    for paths ``wanted`` accepts (default: all)."""
    dots = "..." if "..." in spec else ".."
    if dots not in spec:
        raise IntakeError(f"--git expects a range A..B or A...B, got {spec!r}")
    base, head = (side or "HEAD" for side in spec.split(dots, 1))
    base_commit, head_commit = _commit(root, spec, base), _commit(root, spec, head)
    if dots == "...":
        done = _git_run(root, "merge-base", base_commit, head_commit)
        if done.returncode != 0:
            raise IntakeError(f"--git {spec}: {base!r} and {head!r} have no merge base")
        base_commit = done.stdout.decode().split()[0]
    diff = _git(
        root, "diff", "--no-color", "--no-ext-diff", "-M", f"{base_commit}..{head_commit}", "--"
    )
    files = parse_diff(decode_diff(diff))
    keep = wanted or (lambda _path: True)
    files_read = [f for f in files if keep(f.path) and f.status is not FileStatus.binary]
    # Deleted files have no new side, added files no base side: pull only real blobs.
    heads = [f.path for f in files_read if f.status is not FileStatus.deleted]
    bases = [b for f in files_read if (b := f.base_path) is not None]
    return Change(
        files,
        _git_blob_reader(root, head_commit, heads),
        read_base=_git_blob_reader(root, base_commit, bases),
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


# Untracked and tracked paths that git's ignore rules match; an ignored directory once.
_IGNORED = ("--others", "--cached", "--ignored", "--exclude-standard", "--directory")


def _git_ignored(directory: Path) -> set[str] | None:
    """What git ignores under ``directory`` (.gitignore files at every level,
    .git/info/exclude, core.excludesFile), relative to it; directories end with '/'.
    None outside a git work tree (the ast-grep CLI honours .gitignore only in one)."""
    try:
        done = subprocess.run(
            ["git", "-C", str(directory), "ls-files", "-z", *_IGNORED],
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        return None
    if done.returncode != 0:
        return None
    return {normalise(os.fsdecode(p)) or "./" for p in done.stdout.split(b"\0") if p}


class _Walk:
    """The files under a directory, as `ast-grep scan` walks them: hidden directories
    and what git ignores are left out, links are not followed."""

    def __init__(self, target: Path, ignore: bool) -> None:
        self.target = target
        ignored = _git_ignored(target) if ignore else None
        # A directory named on the command line is walked even if git ignores it.
        self.ignored = set() if ignored is None or "./" in ignored else ignored

    def _skip(self, rel: str) -> bool:
        return rel in self.ignored

    def __iter__(self) -> Iterator[Path]:
        for dirpath, dirnames, filenames in os.walk(self.target):
            here = normalise(os.path.relpath(dirpath, self.target))
            prefix = "" if here == "." else here + "/"
            dirnames[:] = sorted(
                d for d in dirnames if not d.startswith(".") and not self._skip(f"{prefix}{d}/")
            )
            for name in sorted(filenames):
                if not self._skip(prefix + name):
                    yield Path(dirpath) / name


def _relative(root: Path, file: Path) -> str:
    """``file``'s path relative to ``root``, its own name kept when it is a link."""
    absolute = file.parent.resolve() / file.name
    try:
        return normalise(str(absolute.relative_to(root.resolve())))
    except ValueError:
        return normalise(os.path.relpath(absolute, root.resolve()))


def _unreadable(file: Path, follow: bool) -> str | None:
    """Why ``file`` cannot be analysed as a file, or None."""
    try:
        mode = os.stat(file, follow_symlinks=follow).st_mode
    except FileNotFoundError:
        if not file.is_symlink():
            return "gone while the directory was read"
        return f"a dangling symbolic link (to {os.readlink(file)})"
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if stat.S_ISLNK(mode):
        if not file.exists():
            return f"a dangling symbolic link (to {os.readlink(file)})"
        return "a symbolic link, which a directory walk does not follow (name it to analyse it)"
    if not stat.S_ISREG(mode):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a socket or device"
        return f"not a regular file ({kind})"
    return None


def from_paths(
    targets: Iterable[str], root: Path, wanted: Wanted | None = None, ignore: bool = True
) -> Change:
    """Whole files or directories (relative to the current directory, as for
    `ast-grep scan`), analysed as if every line were new. Paths in findings are
    relative to ``root``. Like the ast-grep CLI, a directory walk leaves out what git
    ignores (unless not ``ignore``); a file named here is analysed even so. Files that
    ``wanted`` refuses (default: none) are left out, with a warning when named here."""
    keep = wanted or (lambda _path: True)
    files: list[ChangedFile] = []
    warnings: list[str] = []
    seen: set[str] = set()
    for target in targets:
        full = Path(target)
        named = not full.is_dir()
        if named and not full.exists() and not full.is_symlink():
            raise IntakeError(f"{target}: no such file or directory")
        for file in [full] if named else _Walk(full, ignore):
            rel = _relative(root, file)
            if rel in seen:
                continue
            seen.add(rel)
            if not keep(rel):
                if named:
                    warnings.append(f"{rel}: not a test file (test_files.globs); not analysed")
                continue
            why = _unreadable(file, follow=named)
            if why is not None:
                warnings.append(f"{rel}: skipped: {why}")
                continue
            _inside(root, rel)
            files.append(ChangedFile(rel, FileStatus.modified, whole_file=True))
    return Change(files, _working_tree_reader(root), warnings=tuple(warnings))
