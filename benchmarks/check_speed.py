"""Speed of `skill-audit check` (a benchmark that prints numbers; not a test).

    python benchmarks/check_speed.py                    # synthetic corpus + this repository
    python benchmarks/check_speed.py --corpus DIR       # also a real corpus, e.g. the public one
                                                        # of validator-landscape.md section 9
    python benchmarks/check_speed.py --no-synthetic --corpus A --corpus B \
        --peer 'skillscheck {corpus}'                   # several corpora, against a peer
    python benchmarks/check_speed.py --instructions     # also valgrind instruction counts

Each measurement runs the installed CLI in a fresh process (interpreter start included, bytecode
cached as in an installed package; see `installed_env`), with every default check on, after one
warm-up run, `--repeat` times, and reports the best and median wall times, the CPU
time (user + system, children such as `bash -n` included; a fair figure on a busy machine),
skills/s and MB/s of markdown checked (SKILL.md and references/**/*.md). The synthetic corpus
is generated into a temporary folder: skills shaped like real ones (frontmatter, a Quick
Reference table, links, python/bash/json fences and reference files of a few KB each).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOPICS = [
    "queues",
    "retries",
    "routing",
    "schedules",
    "results",
    "monitoring",
    "workflows",
    "signals",
]


def reference_text(rng: random.Random, topic: str, paragraphs: int) -> str:
    parts = [f"---\ntitle: {topic.title()}\nimpact: HIGH\n---\n\n# {topic.title()}\n"]
    for i in range(paragraphs):
        parts.append(f"## {i + 1}. Rule about {topic} number {i + 1}\n")
        # Prose shaped like the public corpus: code spans are common, links rare (about 4% of
        # paragraphs hold a link or HTML there).
        words = [
            "use",
            "the",
            "worker",
            "with",
            "a",
            "bounded",
            "timeout",
            "so",
            "retries",
            "stay",
            "idempotent",
            "and",
            "queue",
            "messages",
            "are",
            "acknowledged",
            "late",
            "`acks_late`",
        ]
        parts.append(" ".join(rng.choice(words) for _ in range(60)) + ".\n")
        if i % 8 == 0:
            parts.append(
                f"See the [upstream guide](https://example.com/{topic}) and [the index](#{topic}).\n"
            )
        parts.append(
            f"```python\ndef task_{i}(x: int) -> int:\n    return x * {i}\n\nprint(task_{i}(2))\n```\n"
        )
        if i % 3 == 0:
            parts.append("```bash\ncelery -A app worker --loglevel=INFO --concurrency=2\n```\n")
        if i % 4 == 0:
            parts.append('```json\n{"queue": "default", "priority": 5}\n```\n')
        parts.append(
            "| Setting | Value |\n|---|---|\n| `task_acks_late` | `True` |\n| `prefetch` | `1` |\n"
        )
    return "\n".join(parts)


def make_corpus(root: Path, skills: int, seed: int = 7) -> Path:
    rng = random.Random(seed)
    for s in range(skills):
        name = f"skill-{s:03d}"
        folder = root / "skills" / name
        (folder / "references").mkdir(parents=True)
        topics = rng.sample(TOPICS, rng.randint(3, 8))
        rows = "\n".join(
            f"| {t.title()} | [{t}](references/{t}.md) | HIGH | When {t} matter |" for t in topics
        )
        body = (
            f"# {name}\n\nPatterns for background work. Each rule has a file in `references/`.\n\n"
            f"## Quick Reference\n\n| Category | Rule | Impact | When |\n|---|---|---|---|\n{rows}\n\n"
            f"**Total: {len(topics)} rules across {len(topics)} categories**\n\n"
            "## Quick Start\n\n```python\nfrom math import sqrt\n\nprint(sqrt(4))\n```\n"
        )
        (folder / "SKILL.md").write_text(
            f"---\nname: {name}\ndescription: Synthetic skill {s}. Use when benchmarking skill-audit.\n---\n\n{body}"
        )
        for t in topics:
            (folder / "references" / f"{t}.md").write_text(
                reference_text(rng, t, rng.randint(4, 12))
            )
    return root


def markdown_stats(path: Path) -> tuple[int, int, int]:
    """(skills, markdown files checked, bytes): every file `load_skill` ships per skill."""
    sys.path.insert(0, str(REPO / "scripts"))
    from skill_audit.config import Config
    from skill_audit.discovery import find_skills
    from skill_audit.model import load_skill

    roots = find_skills(path)
    docs = [d for r in roots for d in load_skill(r, Config()).docs]
    return len(roots), len(docs), sum(len(d.text.encode("utf-8")) for d in docs)


def time_pair(
    ours: list[str], peer: list[str], repeat: int, env: dict[str, str]
) -> tuple[list[float], list[float], list[float], list[float]]:
    """Wall times of our command and the peer's, run in turn (ours, peer, ours, ...) after one
    warm-up each, so drift in the machine's speed hits both; the per-pair wall ratios; and
    the per-pair CPU ratios (user + system, children included). The CPU ratio says how much
    less work we do; the wall ratio also counts our use of every core (the peer uses one)."""
    for cmd in (ours, peer):
        subprocess.run(cmd, env=env, capture_output=True, timeout=600)
    a, b, cpu_a, cpu_b = [], [], [], []
    for _ in range(repeat):
        for cmd, into, cpu_into in ((ours, a, cpu_a), (peer, b, cpu_b)):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(cmd, env=env, capture_output=True, timeout=600)
            into.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu_into.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return (
        a,
        b,
        [y / x for x, y in zip(a, b, strict=True)],
        [y / x for x, y in zip(cpu_a, cpu_b, strict=True)],
    )


def installed_env(pycache: Path) -> dict[str, str]:
    """The environment of an installed package, whose modules have bytecode: caching is on
    even when the caller sets PYTHONDONTWRITEBYTECODE, into `pycache` (not the work tree).
    Without it every run compiles skill_audit's sources again (tens of ms)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def time_check(
    path: Path, repeat: int, env: dict[str, str], cwd: Path | None = None
) -> tuple[list[float], list[float]]:
    """Wall times and CPU times (user + system of the process and its children, e.g. `bash -n`),
    after one untimed warm-up run."""
    exe = [
        sys.executable,
        "-m",
        "skill_audit",
        "check",
        str(path),
        "--format",
        "json",
        "-o",
        os.devnull,
    ]
    subprocess.run(exe, cwd=cwd, env=env, capture_output=True, timeout=600)
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(exe, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"skill-audit failed on {path}: {proc.stderr.strip()}")
    return walls, cpus


def count_instructions(path: Path, env: dict[str, str], cwd: Path | None = None) -> int:
    """Instructions executed by one in-process run (`--jobs 1`, child processes such as
    `bash -n` not counted), from valgrind's cachegrind. Unlike wall or CPU time it does not
    move with the machine's load, so a change of a few percent shows on a shared machine."""
    exe = [sys.executable, "-m", "skill_audit", "check", str(path), "--jobs", "1"]
    exe += ["--format", "json", "-o", os.devnull]
    subprocess.run(exe, cwd=cwd, env=env, capture_output=True, timeout=600)  # bytecode first
    valgrind = [
        "valgrind",
        "--tool=cachegrind",
        "--cache-sim=no",
        "--cachegrind-out-file=/dev/null",
    ]
    proc = subprocess.run(
        [*valgrind, *exe],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    found = re.search(r"I\s+refs:\s+([\d,]+)", proc.stderr)
    if proc.returncode not in (0, 1) or not found:
        raise SystemExit(f"valgrind run failed on {path}: {proc.stderr.strip()[-500:]}")
    return int(found.group(1).replace(",", ""))


def report(
    label: str,
    path: Path,
    repeat: int,
    env: dict[str, str],
    cwd: Path | None = None,
    instructions: bool = False,
) -> dict:
    skills, files, size = markdown_stats(path)
    walls, cpus = time_check(path, repeat, env, cwd)
    best, median, cpu = min(walls), statistics.median(walls), min(cpus)
    row = {
        "corpus": label,
        "skills": skills,
        "md_files": files,
        "md_mb": round(size / 1e6, 2),
        "best_s": round(best, 3),
        "median_s": round(median, 3),
        "cpu_s": round(cpu, 3),
        "skills_per_s": round(skills / best, 1),
        "mb_per_s": round(size / 1e6 / best, 2),
    }
    print(
        f"{label:<22} {skills:>4} skills {files:>5} md {size / 1e6:>5.2f} MB | wall best {best:.3f} s "
        f"median {median:.3f} s | cpu {cpu:.3f} s | {skills / best:>6.1f} skills/s {size / 1e6 / best:>5.2f} MB/s"
    )
    if instructions:
        row["instructions"] = count_instructions(path, env, cwd)
        print(f"{'':<22} instructions {row['instructions'] / 1e9:.3f} G (valgrind, --jobs 1)")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpus", type=Path, action="append", default=[], help="a real corpus folder"
    )
    parser.add_argument("--skills", type=int, default=120, help="synthetic corpus size")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print the rows as JSON at the end")
    parser.add_argument(
        "--peer",
        default=None,
        help="a peer validator's command, {corpus} standing for the folder, e.g. "
        "'skillscheck {corpus}'; timed against ours on each --corpus (ratio = peer / ours)",
    )
    parser.add_argument(
        "--no-synthetic", action="store_true", help="skip this repository and the synthetic corpus"
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count the instructions of one serial run under valgrind (about 40x slower; "
        "steady on a busy machine, where times drift by a third)",
    )
    args = parser.parse_args()
    if args.instructions and not shutil.which("valgrind"):
        parser.error("--instructions needs valgrind on PATH")
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.2f}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        env = installed_env(Path(tmp) / "pycache")
        rows = []
        if not args.no_synthetic:
            rows.append(
                report("this repository (.)", Path("."), args.repeat, env, REPO, args.instructions)
            )
            corpus = make_corpus(Path(tmp) / "synthetic", args.skills)
            rows.append(
                report(
                    f"synthetic ({args.skills})", corpus, args.repeat, env, None, args.instructions
                )
            )
        for path in args.corpus:
            row = report(
                path.name or str(path), path.resolve(), args.repeat, env, None, args.instructions
            )
            if args.peer:
                ours = [sys.executable, "-m", "skill_audit", "check", str(path.resolve())]
                ours += ["--format", "json", "-o", os.devnull]
                peer = shlex.split(args.peer.replace("{corpus}", shlex.quote(str(path.resolve()))))
                a, b, ratios, cpu_ratios = time_pair(ours, peer, args.repeat, env)
                row.update(
                    peer_median_s=round(statistics.median(b), 3),
                    ours_paired_median_s=round(statistics.median(a), 3),
                    speedup_median=round(statistics.median(ratios), 2),
                    cpu_speedup_median=round(statistics.median(cpu_ratios), 2),
                )
                print(
                    f"{'':<22} vs peer: ours median {statistics.median(a):.3f} s, peer median "
                    f"{statistics.median(b):.3f} s, peer/ours median {statistics.median(ratios):.2f}x "
                    f"wall, {statistics.median(cpu_ratios):.2f}x cpu"
                )
            rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
