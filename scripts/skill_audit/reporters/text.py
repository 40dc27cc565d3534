"""Human-readable output, grouped by file:

    path:line:col: CODE [severity] message (name)     one line per finding, a blank line
                                                      between files (editors open the spot)
    a count per code (when more than one finding)     `--statistics` prints only this table
    the summary line, with the number of failing skills

`--quiet` prints the finding lines alone.
"""

from __future__ import annotations

from collections import Counter

from skill_audit.reporters.summary import summary_line


def render(report, statistics: bool = False, quiet: bool = False) -> str:
    out: list[str] = []
    if not statistics:
        previous = None
        for d in report.diagnostics:
            if previous is not None and d.path != previous and not quiet:
                out.append("")
            previous = d.path
            out.append(
                f"{d.path}:{d.line}:{d.column}: {d.code} [{d.severity.label}] "
                f"{_one_line(d.message)} ({d.name})"
            )
    if quiet:
        return "\n".join(out) + "\n" if out else ""
    if statistics or len(report.diagnostics) > 1:
        table = statistics_table(report)
        if table:
            out += ([""] if out else []) + table
    if out:
        out.append("")
    out.append(summary_line(report))
    return "\n".join(out) + "\n"


def statistics_table(report) -> list[str]:
    """ruff-style `--statistics`: count, code, severity and name per code, most frequent first."""
    counts = Counter(d.code for d in report.diagnostics)
    meta = {}
    for d in sorted(report.diagnostics, key=lambda d: d.severity):  # the highest one wins
        meta[d.code] = (d.severity.label, d.name)
    if not counts:
        return []
    width = max(len(f"{n:,}") for n in counts.values())
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [f"{n:>{width},}  {code}  {meta[code][0]:<7}  {meta[code][1]}" for code, n in rows]


def _one_line(message: str) -> str:
    return message.replace("\r", " ").replace("\n", " ")
