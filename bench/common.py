"""Shared helpers of the benchmarks: realistic test-code generation, timing, comparison.

The benchmarks compare `review-bot check` with `ast-grep scan` run as subprocesses, so
interpreter and process start-up are counted: that is what a user pays per run.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# The benchmarks share the tests' fakes (tests/fakes/) instead of copying them.
if str(REPO) not in sys.path:
    sys.path.insert(1, str(REPO))
BIN = REPO / ".venv" / "bin"
REVIEW_BOT = BIN / "review-bot"
AST_GREP = BIN / "ast-grep"

Line = str  # one source line, without its newline


def progress(message: str) -> None:
    """Progress goes to stderr so stdout holds only the results."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- arguments


def base_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--repeat",
        "-n",
        type=int,
        default=5,
        metavar="N",
        help="timed runs of each tool, after one untimed warm-up (default: 5)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small inputs, for a smoke run of the benchmark itself"
    )
    parser.add_argument(
        "--sgconfig",
        type=Path,
        default=REPO / "sgconfig.yml",
        metavar="FILE",
        help="ast-grep project file whose rules both tools run "
        "(default: the repository's sgconfig.yml)",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="generate the input into DIR and keep it (default: a temp dir)",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="fewer runs for a command so slow that --repeat runs would take longer than "
        "this (default: 300)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the code generator")
    return parser


@contextmanager
def work_dir(keep: Path | None) -> Iterator[Path]:
    """Where inputs are generated: a temp dir by default, outside the repository, so that
    none of its ignore files or configuration can apply to the inputs."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep.resolve()
        return
    with tempfile.TemporaryDirectory(prefix="review-bot-bench-") as tmp:
        yield Path(tmp)


def rule_count(sgconfig: Path) -> int:
    """How many rules both tools run (those not switched off), read with review-bot's
    loader. None is worth a warning: the timings would then mean little."""
    # Late: so that --help and argument errors do not wait for review-bot's imports.
    from bot.model import Severity
    from bot.rules.load import load_project

    count = sum(r.severity is not Severity.off for r in load_project(sgconfig))
    if count == 0:
        progress(f"warning: {sgconfig} configures no rules; the timings mean little")
    return count


# The one large test file of the single-file benchmarks, so that their figures compare.
LARGE_FILE = "nova/tests/functional/test_servers_large.py"


def large_file_lines(quick: bool) -> int:
    return 3_000 if quick else 30_000


# Appended to a result title under --quick.
QUICK_NOTE = " [--quick: too small for the goal to mean anything]"


def git(repo: Path, *args: str) -> None:
    """One git command in ``repo``, with a fixed identity so that commits work anywhere."""
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.org",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.org",
    }
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


# --------------------------------------------------------------------------- timing


@dataclass
class Timing:
    label: str
    samples: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # user + system, the process tree's
    peaks: list[int] = field(default_factory=list)  # peak RSS in KiB, see Run.peak_kib
    stdout: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def min(self) -> float:
        return min(self.samples)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)

    @property
    def peak_mib(self) -> float:
        """The largest peak of the timed runs: a memory budget must fit the worst run."""
        return max(self.peaks) / 1024


@dataclass(frozen=True)
class Command:
    label: str
    argv: list[str]
    cwd: Path


@dataclass(frozen=True)
class Run:
    """One run of a command, measured from its own rusage (``os.wait4``)."""

    elapsed: float  # wall seconds from spawn to reap, without the launcher's own start
    cpu: float  # user + system seconds of the process and the descendants it waited for
    # ru_maxrss (KiB on Linux): the largest peak RSS of the process and of each descendant
    # it waited for, a max and not a sum. For review-bot that covers its pool workers,
    # which the pool joins before exit (pebble: terminate + join), and the git commands;
    # not multiprocessing's resource tracker, which outlives it unwaited (~13 MiB, less
    # than review-bot's own). Never below the launcher's own ~8 MiB (see _LAUNCHER).
    peak_kib: int
    stdout: str


# Like an installed package, which has its bytecode compiled: without this, a
# PYTHONDONTWRITEBYTECODE in the environment would make every run compile bot/ afresh.
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

# Each command is started and reaped by this small launcher, not by the benchmark. On
# exec, Linux records the peak RSS of the address space being replaced in the process's
# ru_maxrss; that space is the parent's (vfork) or a copy of it (fork). Started by the
# benchmark, which may have parsed a 30,000-line file by then, even /bin/true would
# "peak" at the benchmark's 300 MiB. A fresh interpreter without site is ~8 MiB. It
# times the command, reaps it with wait4 and writes what it got to the pipe whose fd is
# its first argument (closed in the command, so that only the launcher holds it).
_LAUNCHER = """\
import os, sys, time
fd, argv = int(sys.argv[1]), sys.argv[2:]
start = time.perf_counter()
pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=[(os.POSIX_SPAWN_CLOSE, fd)])
_, status, usage = os.wait4(pid, 0)
elapsed = time.perf_counter() - start
cpu = usage.ru_utime + usage.ru_stime
os.write(fd, f"{os.waitstatus_to_exitcode(status)} {elapsed!r} {cpu!r} {usage.ru_maxrss}".encode())
"""


def run_once(cmd: Command) -> Run:
    """Run ``cmd`` once, capturing its output. Exit 0 and 1 (findings) both count as
    success. The rusage is this one command's, from wait4 in the launcher:
    RUSAGE_CHILDREN would add up every child ever waited for, and take the largest
    ru_maxrss of them all."""
    result_r, result_w = os.pipe()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(result_w), *cmd.argv],
            cwd=cmd.cwd,
            env=_ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            pass_fds=(result_w,),
        )
    finally:
        os.close(result_w)  # the launcher has its own copy: EOF once it exits
    with proc, open(result_r, "rb") as results:
        assert proc.stdout is not None and proc.stderr is not None
        # Both pipes are read to EOF, stderr in a thread, so that neither can fill up
        # and block the command; the launcher writes its result once the command is done.
        err: list[str] = []
        reader = threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True)
        reader.start()
        stdout = proc.stdout.read()
        reader.join()
        result = results.read().decode().split()
    if len(result) != 4:
        sys.exit(
            f"{cmd.label} could not be started (launcher exit {proc.returncode}):\n"
            f"  cd {cmd.cwd} && {' '.join(cmd.argv)}\n{''.join(err).strip()}"
        )
    code, peak_kib = int(result[0]), int(result[3])
    elapsed, cpu = float(result[1]), float(result[2])
    if code not in (0, 1):
        sys.exit(
            f"{cmd.label} failed (exit {code}):\n  cd {cmd.cwd} && "
            f"{' '.join(cmd.argv)}\n{''.join(err).strip()}"
        )
    return Run(elapsed, cpu, peak_kib, stdout)


def time_commands(commands: Sequence[Command], repeat: int, budget: float) -> list[Timing]:
    """Run each command ``repeat`` times, interleaved so that drift (thermal, other load)
    hits every command alike. One untimed warm-up each fills the page cache. A command
    whose warm-up shows that ``repeat`` runs would take over ``budget`` seconds gets
    fewer runs (at least one): the report says how many each had."""
    timings = [Timing(c.label) for c in commands]
    runs = []
    for cmd, timing in zip(commands, timings, strict=True):
        progress(f"warm-up: {cmd.label}: cd {cmd.cwd} && {' '.join(cmd.argv)}")
        warm = run_once(cmd)
        timing.stdout = warm.stdout
        runs.append(max(1, min(repeat, int(budget // warm.elapsed))))
        if runs[-1] < repeat:
            progress(f"{cmd.label} took {warm.elapsed:.1f}s: {runs[-1]} timed run(s), not {repeat}")
    for i in range(1, repeat + 1):
        for cmd, timing, n in zip(commands, timings, runs, strict=True):
            if i > n:
                continue
            run = run_once(cmd)
            timing.samples.append(run.elapsed)
            timing.cpu.append(run.cpu)
            timing.peaks.append(run.peak_kib)
            progress(
                f"run {i}/{n}: {cmd.label}: {run.elapsed:.3f}s (cpu {run.cpu:.3f}s, "
                f"peak {run.peak_kib / 1024:.1f} MiB)"
            )
    return timings


def verdict(value: float, goal: float, unit: str) -> str:
    """``met`` when ``value`` is at most ``goal``, else by how much it missed it."""
    return "met" if value <= goal else f"MISSED by {value - goal:.2f}{unit}"


def race(
    ours: Command, peer: Command, args: argparse.Namespace, tree: Path, sgconfig: Path
) -> tuple[Timing, Timing, list[Found]]:
    """Time review-bot against the CLI, and the CLI's findings as review-bot's rule
    extensions narrow them (``tree``: where the CLI's paths are)."""
    ours_t, peer_t = time_commands([ours, peer], args.repeat, args.budget)
    return ours_t, peer_t, with_extensions(peer_findings(peer_t.stdout), tree, sgconfig)


def report(title: str, ours: Timing, peer: Timing, goal: float, quick: bool = False) -> None:
    """The result table on stdout: both times and the ratio ours/peer against the goal.
    CPU time is shown too: on a busy machine it moves less than wall time. Peak MiB is
    the largest peak RSS of the timed runs (the process tree's, see ``Run.peak_kib``).
    ``quick``: the inputs were made small, which the title then says."""
    if quick:
        title += QUICK_NOTE
    ratios = (
        ours.median / peer.median,
        ours.min / peer.min,
        ours.cpu_median / peer.cpu_median,
        ours.peak_mib / peer.peak_mib,
    )
    print(f"\n{title}")
    print(f"  {'':<20}{'median':>10}{'min':>10}{'cpu median':>12}{'peak MiB':>10}{'runs':>6}")
    for t in (ours, peer):
        print(
            f"  {t.label:<20}{t.median:>9.3f}s{t.min:>9.3f}s{t.cpu_median:>11.3f}s"
            f"{t.peak_mib:>10.1f}{len(t.samples):>6}"
        )
    print(
        f"  {'ratio ours/peer':<20}{ratios[0]:>9.3f}x{ratios[1]:>9.3f}x{ratios[2]:>11.3f}x"
        f"{ratios[3]:>9.2f}x      goal <= {goal}x (median wall): {verdict(ratios[0], goal, 'x')}"
    )


# --------------------------------------------------------------------------- findings

Key = tuple[str, str, int, int]  # path, rule id, 1-based start line, 0-based start column


@dataclass(frozen=True)
class Found:
    key: Key
    lines: range  # 1-based lines the finding touches


def _touched(start: int, end: int, end_column: int) -> range:
    # A range ending at column 0 of a later line does not touch that line (review-bot's rule).
    last = end - 1 if end_column == 0 and end > start else end
    return range(start, last + 1)


def ours_findings(stdout: str) -> list[Found]:
    """Findings of `review-bot check --format json` (1-based lines and columns)."""
    out = []
    for f in json.loads(stdout)["findings"]:
        start, end = f["range"]["start"], f["range"]["end"]
        out.append(
            Found(
                (f["path"], f["rule_id"], start["line"], start["column"] - 1),
                _touched(start["line"], end["line"], end["column"] - 1),
            )
        )
    return out


def peer_findings(stdout: str) -> list[Found]:
    """Findings of `ast-grep scan --json=stream` (0-based lines and columns)."""
    out = []
    for line in stdout.splitlines():
        if not line.strip():
            continue
        f = json.loads(line)
        start, end = f["range"]["start"], f["range"]["end"]
        out.append(
            Found(
                (f["file"], f["ruleId"], start["line"] + 1, start["column"]),
                _touched(start["line"] + 1, end["line"] + 1, end["column"]),
            )
        )
    return out


def with_extensions(peer: Sequence[Found], tree: Path, sgconfig: Path) -> list[Found]:
    """The CLI's findings, narrowed as review-bot's ``copies-in-file`` rule extension
    narrows the same matches (the CLI ignores rule metadata)."""
    from ast_grep_py import SgRoot

    from bot.core.copies import COPIES_IN_FILE, FileCopies, keeps
    from bot.rules.load import load_project

    narrowed = {r.id: r for r in load_project(sgconfig) if COPIES_IN_FILE in r.metadata}
    files: dict[str, tuple[Any, FileCopies]] = {}
    at: dict[tuple[str, str], dict[tuple[int, int], Any]] = {}
    kept = []
    for found in peer:
        path, rule_id, line, column = found.key
        rule = narrowed.get(rule_id)
        if rule is None:
            kept.append(found)
            continue
        if path not in files:
            root = SgRoot((tree / path).read_text(encoding="utf-8"), rule.language).root()
            files[path] = (root, FileCopies(root))
        root, copies = files[path]
        nodes = at.get((path, rule_id))
        if nodes is None:
            nodes = at[path, rule_id] = {
                (n.range().start.line + 1, n.range().start.column): n
                for n in root.find_all(rule.config)
            }
        if keeps(rule.metadata[COPIES_IN_FILE], nodes[line, column], copies):
            kept.append(found)
    return kept


def compare_findings(ours: Sequence[Found], peer: Sequence[Found], where: str) -> bool:
    """Print whether both tools found the same (path, rule, position)s; True if so."""
    ours_keys = sorted(f.key for f in ours)
    peer_keys = sorted(f.key for f in peer)
    if ours_keys == peer_keys:
        print(f"  findings {where}: review-bot {len(ours_keys)}, ast-grep {len(peer_keys)}: same")
        return True
    print(f"  findings {where}: review-bot {len(ours_keys)}, ast-grep {len(peer_keys)}: DIFFERENT")
    only_ours = sorted(set(ours_keys) - set(peer_keys))
    only_peer = sorted(set(peer_keys) - set(ours_keys))
    for label, keys in (("only review-bot", only_ours), ("only ast-grep", only_peer)):
        for key in keys[:5]:
            print(f"    {label}: {key[0]}:{key[2]}:{key[3] + 1} {key[1]}")
        if len(keys) > 5:
            print(f"    {label}: ... {len(keys) - 5} more")
    return False


# --------------------------------------------------------------------------- code generation

LICENSE = """\
# Copyright 2024 OpenStack Foundation
#
#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.
"""

IMPORTS = """\
import time
from unittest import mock

import fixtures
from oslo_serialization import jsonutils
from oslo_utils.fixture import uuidsentinel as uuids

from nova.compute import instance_actions
from nova.compute import manager as compute_manager
from nova import context
from nova import exception
from nova import objects
from nova.tests import fixtures as nova_fixtures
from nova.tests.functional.api import client
from nova.tests.functional import integrated_helpers
"""

BASES = [
    "integrated_helpers._IntegratedTestBase",
    "integrated_helpers.ProviderUsageBaseTestCase",
    "integrated_helpers.InstanceHelperMixin, test.TestCase",
]
NOUNS = [
    "server",
    "migration",
    "resize",
    "evacuate",
    "shelve",
    "rebuild",
    "volume_attach",
    "live_migration",
    "cold_migration",
    "unshelve",
    "reboot",
    "allocation",
    "quota",
    "flavor",
    "keypair",
    "aggregate",
    "hypervisor",
    "port_binding",
    "snapshot",
    "lock",
]
VERBS = [
    "create",
    "delete",
    "reschedule",
    "revert",
    "confirm",
    "abort",
    "retry",
    "fail",
    "update",
    "list",
    "show",
    "check",
    "cleanup",
    "recover",
]
HOSTS = ["host1", "host2", "host3", "compute1", "compute2"]
ACTIONS = ["migrate", "shelve", "unshelve", "lock", "unlock", "pause", "suspend", "resume"]
PATCHED = [
    "nova.compute.manager.ComputeManager._prep_resize",
    "nova.virt.fake.FakeDriver.migrate_disk_and_power_off",
    "nova.scheduler.client.report.SchedulerReportClient.get_allocations_for_consumer",
    "nova.compute.rpcapi.ComputeAPI.prep_resize",
    "nova.virt.fake.FakeDriver.spawn",
    "nova.network.neutron.API.setup_networks_on_host",
    "nova.conductor.tasks.migrate.MigrationTask._execute",
]
EXCEPTIONS = ["MigrationError", "NoValidHost", "ComputeHostNotFound"]
EVENTS = [f"instance.{verb}.end" for verb in VERBS]
STATES = ["ACTIVE", "SHUTOFF", "VERIFY_RESIZE", "ERROR", "SHELVED_OFFLOADED"]

Unit = list[Line]  # a statement or block, indented relative to the method body
Template = Callable[[random.Random], Unit]


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _q(text: str) -> str:
    return f"'{text}'"


# Ordinary statements, none of which the rules are meant to flag.
PLAIN: list[Template] = [
    lambda r: [f"server = self._wait_for_state_change(server, {_q(r.choice(STATES))})"],
    lambda r: [f"self.api.post_server_action(server['id'], {{{_q(r.choice(ACTIONS))}: None}})"],
    lambda r: [f"self._wait_for_migration_status(server, [{_q('finished')}, {_q('done')}])"],
    lambda r: [
        "migrations = self.api.get_migrations()",
        f"self.assertEqual({r.randint(1, 3)}, len(migrations))",
    ],
    lambda r: [f"self.assertEqual({_q(r.choice(HOSTS))}, server['OS-EXT-SRV-ATTR:host'])"],
    lambda r: [
        "ctxt = context.get_admin_context()",
        "inst = objects.Instance.get_by_uuid(ctxt, server['id'])",
        f"self.assertEqual({_q(r.choice(HOSTS))}, inst.host)",
    ],
    lambda r: [f"self._start_compute({_q(r.choice(HOSTS))})"],
    lambda r: ["flavors = self.api.get_flavors()", f"flavor_id = flavors[{r.randint(0, 2)}]['id']"],
    lambda r: [
        "ex = self.assertRaises(",
        "    client.OpenStackApiException, self.api.post_server_action,",
        "    server['id'], {'resize': {'flavorRef': flavor_id}})",
        f"self.assertEqual({r.choice([400, 403, 409])}, ex.response.status_code)",
    ],
    lambda r: [f"self.assertIn({_q(r.choice(NOUNS))}, str(ex))"],
    lambda r: [
        "body = {",
        "    'server': {",
        f"        'name': {_q(r.choice(NOUNS) + '-' + str(r.randint(1, 99)))},",
        "        'imageRef': uuids.image,",
        "        'flavorRef': self.flavor_id,",
        "        'networks': 'none',",
        "    }",
        "}",
        "server = self.api.post_server(body)",
    ],
    lambda r: [
        f"with mock.patch({_q(r.choice(PATCHED))}) as mock_call:",
        f"    mock_call.side_effect = exception.{r.choice(EXCEPTIONS)}(",
        "        reason='testing')",
        "    self.api.post_server_action(server['id'], {'migrate': None})",
        f"    self._wait_for_state_change(server, {_q(r.choice(STATES))})",
        "mock_call.assert_called_once()",
    ],
    lambda r: [
        f"for i in range({r.randint(2, 5)}):",
        "    self._create_server(",
        f"        name='server-%d' % i, host={_q(r.choice(HOSTS))}, networks='none')",
    ],
    lambda r: [
        "self.assertFlavorMatchesUsage(",
        f"    self.compute{r.randint(1, 2)}_rp_uuid, self.flavor)",
    ],
    lambda r: [
        f"events = self._get_instance_action_events(server, {_q(r.choice(VERBS))})",
        f"self.assertEqual({r.randint(1, 4)}, len(events))",
    ],
    lambda r: [
        "if server['status'] == 'ERROR':",
        "    self.fail('server went to ERROR: %s' % server['fault'])",
    ],
    lambda r: [f"self.notifier.wait_for_versioned_notifications({_q(r.choice(EVENTS))})"],
    lambda r: [
        "allocations = self._get_allocations_by_server_uuid(server['id'])",
        f"self.assertIn(self.compute{r.randint(1, 2)}_rp_uuid, allocations)",
    ],
    lambda r: [
        "log = self.stdlog.logger.output",
        f"self.assertIn({_q(r.choice(VERBS).title() + ' failed')}, log)",
    ],
    lambda r: ["self._delete_server(server)"],
]

# What the configured rules are written to flag (OpenStack review comments). Real rules
# may not flag all of these; the benchmark only needs both tools to agree.
FLAGGED: list[Template] = [
    lambda r: ["server = self.api.get_servers()[0]"],
    lambda r: [f"image_uuid = {_q(_uuid(r))}"],
    lambda r: ["self.api.microversion = 'latest'"],
    lambda r: [f"mock.patch({_q(r.choice(PATCHED))}).start()"],
    lambda r: ["time.sleep(1)"],
    lambda r: ["self.assertTrue(server['status'] == 'ACTIVE')"],
    lambda r: ["self.assertEqual(server['fault'], None)"],
    lambda r: [
        "servers = self.api.get_servers(detail=True)",
        "self.assertEqual(1, len(servers))",
        "server = servers[0]",
    ],
]
# One-line filler that pads a method to an exact length.
FILLER: list[Template] = [t for t in PLAIN if len(t(random.Random(0))) == 1]


@dataclass
class Module:
    """A generated test module and where a new method could be inserted."""

    lines: list[Line]
    method_starts: list[int] = field(default_factory=list)  # 0-based, class-body level

    @property
    def text(self) -> str:
        return "".join(line + "\n" for line in self.lines)


class TestCodeGenerator:
    """Deterministic Nova-functional-test-like code, with ``flag_rate`` of the methods
    carrying something the rules flag."""

    def __init__(self, seed: int, flag_rate: float = 0.3) -> None:
        self.rng = random.Random(seed)
        self.flag_rate = flag_rate
        self.counter = 0

    def _name(self) -> str:
        self.counter += 1
        r = self.rng
        return f"{r.choice(VERBS)}_{r.choice(NOUNS)}_{self.counter}"

    def method(
        self, n_lines: int, flagged: int | None = None, include: Sequence[Template] = ()
    ) -> list[Line]:
        """One test method of exactly ``n_lines`` lines (>= 6), at class-body indentation,
        ending with a blank line. ``flagged``: how many random flagged units (default:
        by ``flag_rate``); ``include``: units that must be in it too."""
        if n_lines < 6:
            raise ValueError("a method needs at least 6 lines")
        r = self.rng
        head: list[Line] = []
        params = "self"
        if r.random() < 0.2 and n_lines >= 8:
            head.append(f"    @mock.patch({_q(r.choice(PATCHED))})")
            params = "self, mock_patched"
        name = self._name()
        head += [
            f"    def test_{name}({params}):",
            f'        """{name.replace("_", " ").capitalize()} must not leak resources."""',
        ]
        budget = n_lines - len(head) - 1  # the last line is blank
        if flagged is None:
            flagged = 1 if budget >= 5 and r.random() < self.flag_rate else 0
        units = [r.choice(FLAGGED)(r) for _ in range(flagged)] + [t(r) for t in include]
        size = 1 + sum(len(u) for u in units)
        if size > budget:
            raise ValueError(f"{len(units)} flagged units do not fit in {n_lines} lines")
        while len(unit := r.choice(PLAIN)(r)) + size <= budget:
            # Flagged units land at random places, not only at the end of the method.
            units.insert(r.randint(0, len(units)), unit)
            size += len(unit)
        body: list[Line] = ["server = self._create_server(networks='none')"]
        body += [line for unit in units for line in unit]
        while len(body) < budget:
            body += r.choice(FILLER)(r)
        return head + ["        " + line for line in body] + [""]

    def _class_head(self, flagged: bool) -> list[Line]:
        r = self.rng
        name = "".join(w.title() for w in r.choice(NOUNS).split("_"))
        self.counter += 1
        version = "'latest'" if flagged and r.random() < 0.5 else f"'2.{r.randint(1, 96)}'"
        setup_patch = (
            f"        mock.patch({_q(r.choice(PATCHED))}).start()"
            if flagged and "latest" not in version
            else f"        self.useFixture(fixtures.MockPatch({_q(r.choice(PATCHED))}))"
        )
        return [
            f"class {name}Test{self.counter}({r.choice(BASES)}):",
            f'    """Functional tests of {name.lower()} handling in the compute service."""',
            "",
            "    compute_driver = 'fake.MediumFakeDriver'",
            f"    microversion = {version}",
            "",
            "    def setUp(self):",
            "        super().setUp()",
            "        self.useFixture(nova_fixtures.HostNameWeigherFixture())",
            setup_patch,
            f"        self.compute1 = self._start_compute({_q(r.choice(HOSTS))})",
            "        self.flavor_id = self.api.get_flavors()[0]['id']",
            "",
        ]

    def module(self, n_lines: int) -> Module:
        """A test module of exactly ``n_lines`` lines (>= 60)."""
        r = self.rng
        mod = Module((LICENSE + "\n" + IMPORTS).splitlines())
        mod.lines.append("")
        while len(mod.lines) < n_lines:
            mod.lines.append("")  # classes are separated by two blank lines
            remaining = n_lines - len(mod.lines)
            budget = min(remaining, r.randint(200, 600))
            if remaining - budget < 120:
                budget = remaining  # no room for another class: this one takes the rest
            start = len(mod.lines)
            mod.lines += self._class_head(r.random() < self.flag_rate)
            while (left := budget - (len(mod.lines) - start)) > 0:
                size = r.randint(8, 30)
                if left - size < 8:
                    size = left
                mod.method_starts.append(len(mod.lines))
                mod.lines += self.method(size)
        if len(mod.lines) != n_lines:
            raise AssertionError(f"generated {len(mod.lines)} lines, not {n_lines}")
        return mod


def check_syntax(text: str, name: str) -> None:
    """Generated code must parse, or both tools would be timed on error recovery."""
    ast.parse(text, name)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def cpu_summary() -> str:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cpus} CPUs, Python {sys.version.split()[0]}"


def sgconfig_arg(parser: argparse.ArgumentParser, path: Path) -> Path:
    """review-bot finds `sgconfig.yml` in its working directory, so the file must be
    called that: both tools then read the very same rules."""
    path = path.resolve()
    if path.name != "sgconfig.yml" or not path.is_file():
        parser.error(f"--sgconfig {path}: expected an existing file named sgconfig.yml")
    return path


def review_bot(*args: str | Path, sgconfig: Path) -> Command:
    """`review-bot check`, run where a user runs it: beside sgconfig.yml. Every severity is
    shown, nothing is left out for following the file's practice (the CLI knows no such
    thing) and nothing fails, so the findings are comparable with ast-grep's."""
    argv = [
        str(REVIEW_BOT),
        "check",
        "--format",
        "json",
        "--min-severity",
        "hint",
        "--idiom-threshold",
        "0",
        "--fail-on",
        "off",
        *map(str, args),
    ]
    return Command("review-bot check", argv, sgconfig.parent)


def ast_grep(*args: str | Path, sgconfig: Path, cwd: Path) -> Command:
    argv = [str(AST_GREP), "scan", "-c", str(sgconfig), "--json=stream", *map(str, args)]
    return Command("ast-grep scan", argv, cwd)
