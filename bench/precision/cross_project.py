"""Precision and recall of the default review on real commits of projects the rules
were not written for.

Each ``projects/<name>.yaml`` lists commit ids of one project, the judgement of every
comment the bot makes on them (``labels``), and every instance of the rules' concerns
that a reader of those commits found (``concerns``), whether the bot finds it or not.
``wide_commits``, where present, is a larger sample judged for precision only: its
comments are labelled, but nobody read it for missed concerns, so it has no recall.
The project's code is not stored here: the git directory comes from the environment
variable the file names (e.g. ``NEUTRON_GIT=/path/to/neutron/.git``). A project whose
variable is unset is reported as skipped.

For each commit the bot reviews ``C~1..C`` exactly as ``review-bot check --git`` does,
at ``hint``, and the threshold is applied here, so one run gives both figures.

Verdicts are ``yes`` (a core reviewer of that project would agree), ``maybe`` and
``no``. Precision counts ``yes`` as right and the others as wrong. Recall is the share
of known instances (the concerns, plus any comment judged ``yes``) that a ``yes``
comment at the threshold covers. Exit 1 when a comment has no label, so a
rule change cannot slip past the judgement.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml
from checkjson import check_json

HERE = Path(__file__).resolve().parent
SEVERITIES = ("hint", "info", "warning", "error")


@dataclass(frozen=True)
class Seen:
    commit: str
    path: str
    line: int
    rule: str
    severity: str
    message: str


def review(git_dir: str, commit: str) -> list[Seen]:
    report = check_json("--root", git_dir, "--git", f"{commit}~1..{commit}")
    return [
        Seen(
            commit,
            f["path"],
            f["range"]["start"]["line"],
            f["rule_id"],
            f["severity"],
            f["message"],
        )
        for f in report["findings"]
    ]


def at_least(severity: str, threshold: str) -> bool:
    return SEVERITIES.index(severity) >= SEVERITIES.index(threshold)


def label_key(label: dict) -> tuple[str, str, int, str]:
    return (str(label["commit"]), label["path"], int(label["line"]), label["rule"])


def _key(s: Seen) -> tuple[str, str, int, str]:
    return (s.commit, s.path, s.line, s.rule)


def _verdict(labels: dict, s: Seen) -> str:
    lab = labels.get(_key(s))
    return lab["verdict"] if lab else "unjudged"


def score(
    spec: dict, seen: list[Seen], threshold: str, verbose: bool, surveyed: bool = True
) -> bool:
    """Print the figures of one sample at ``threshold``; False if a comment is unjudged.
    Recall only where the sample's concerns were ``surveyed``."""
    labels = {label_key(lab): lab for lab in spec.get("labels") or []}
    posted = [s for s in seen if at_least(s.severity, threshold)]
    verdicts: Counter[str] = Counter()
    per_rule: dict[str, Counter[str]] = defaultdict(Counter)
    for s in posted:
        verdict = _verdict(labels, s)
        verdicts[verdict] += 1
        per_rule[s.rule][verdict] += 1
        if verbose:
            reason = labels.get(_key(s), {}).get("reason", "")
            print(f"    {verdict:8} {s.commit[:10]} {s.path}:{s.line} {s.rule}  {reason}")
    unjudged = [s for s in posted if _verdict(labels, s) == "unjudged"]
    right_at = {(s.commit, s.path, s.line) for s in posted if _verdict(labels, s) == "yes"}
    known = right_at | {
        (str(c["commit"]), c["path"], int(c["line"])) for c in spec.get("concerns") or []
    }
    right = verdicts["yes"]
    shown = f"{right / len(posted):.2f}" if posted else "n/a"
    if surveyed:
        rate = f"{len(right_at) / len(known):.2f}" if known else "n/a"
        recall = f"recall {rate} ({len(right_at)}/{len(known)} known instances)"
    else:
        recall = "recall not surveyed"
    print(
        f"  at {threshold}: posted {len(posted)}, yes {right}, maybe {verdicts['maybe']}, "
        f"no {verdicts['no']}, unjudged {verdicts['unjudged']}; precision {shown}, {recall}"
    )
    for rule, c in sorted(per_rule.items()):
        total = sum(c.values())
        print(
            f"    {rule:32} posted {total:3}  precision {c['yes'] / total:.2f}"
            f"  (yes {c['yes']}, maybe {c['maybe']}, no {c['no']})"
        )
    for s in unjudged:
        print(f"    UNJUDGED {s.commit} {s.path}:{s.line} {s.rule} [{s.severity}] {s.message}")
    return not unjudged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("projects", nargs="*", help="project files (default: projects/*.yaml)")
    parser.add_argument("--threshold", default="warning", choices=SEVERITIES)
    parser.add_argument("--verbose", "-v", action="store_true", help="list every comment")
    parser.add_argument("--dump", type=Path, help="write every finding at hint as YAML")
    parser.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    files = [Path(p) for p in args.projects] or sorted((HERE / "projects").glob("*.yaml"))
    ok, dumped = True, []
    for path in files:
        spec = yaml.safe_load(path.read_text())
        git_dir = os.environ.get(spec["env"])
        if not git_dir:
            print(f"{spec['project']}: skipped: set {spec['env']} to the project's git directory")
            continue
        samples = [("surveyed", spec["commits"], True)]
        if spec.get("wide_commits"):
            samples.append(("wide, precision only", spec["wide_commits"], False))
        for name, commits, surveyed in samples:
            print(f"{spec['project']} ({name}): {len(commits)} commits")
            with ThreadPoolExecutor(args.jobs) as pool:
                runs = pool.map(review, [git_dir] * len(commits), map(str, commits))
                seen = [s for run in runs for s in run]
            ok &= score(spec, seen, args.threshold, args.verbose, surveyed)
            score(spec, seen, "hint", args.verbose, surveyed)
            dumped += [{"project": spec["project"], "sample": name, **s.__dict__} for s in seen]
    if args.dump:
        args.dump.write_text(yaml.safe_dump(dumped, sort_keys=False, width=200))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
