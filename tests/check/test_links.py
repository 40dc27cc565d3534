"""LK checks beyond the fixture pairs (test_fixtures.py): path mentions, plugin detection, and the
external link checker against a local HTTP server (never the internet)."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from skill_audit import mentions as mention_facts
from skill_audit.checks import links
from skill_audit.config import Config
from skill_audit.diagnostics import Severity
from skill_audit.engine import Options, hits_of, run_check
from skill_audit.model import MarkdownDoc, load_skill, plugin_root
from skill_audit.registry import load_checks

from tests.check.conftest import FIXTURES, findings

CHECKS = load_checks()


def test_external_links_are_not_fetched_by_default():
    assert findings(FIXTURES / "LK007" / "fail", select="LK007") == []


def doc(text: str) -> MarkdownDoc:
    return MarkdownDoc(Path("/s/SKILL.md"), "SKILL.md", text)


def test_path_mentions_find_read_calls_placeholders_and_inline_paths():
    mentions = mention_facts.path_mentions(
        doc(
            "Load `Read(\"${CLAUDE_SKILL_DIR}/references/a.md\")` then Read('references/b.md').\n"
            "Helpers: `python scripts/run.py --fast`, `references/<rule>.md`, `references/*.md`.\n"
            'Not ours: `df.Read("./x.csv")`, `tests/proofs/test_x.py`, `my-references/y.md`.\n'
            "```bash\ncat ${CLAUDE_SKILL_DIR}/assets/t.txt\n```\n"
        )
    )
    got = {(m.raw, m.line, m.how) for m in mentions}  # templates and globs are skipped
    assert got == {
        ("${CLAUDE_SKILL_DIR}/references/a.md", 1, "Read()"),
        ("references/b.md", 1, "Read()"),
        ("scripts/run.py", 2, "inline code"),
        ("${CLAUDE_SKILL_DIR}/assets/t.txt", 5, "placeholder path"),
    }


def test_path_mention_columns_point_at_the_path():
    text = 'x `Read("references/a.md")`\n'
    (mention,) = mention_facts.path_mentions(doc(text))
    assert text[mention.column - 1 :].startswith("references/a.md")


def test_anchor_slugs_follow_github_rules(tmp_path):
    (tmp_path / "SKILL.md").write_text(
        "---\nname: x\ndescription: d\n---\n# Top\n\n## Retry & back-off (Celery 5.7)\n\n## Example\n\n## Example\n\n"
        "[a](#retry--back-off-celery-57) [b](#example-1) [c](#Example) [d](#example-2)\n",
        encoding="utf-8",
    )
    skill = load_skill(tmp_path, Config())
    hits = hits_of(skill, CHECKS["LK002"])
    assert [(h.line, h.message.split(":")[0]) for h in hits] == [(13, "link #example-2")]


def test_plugin_membership(tmp_path):
    plugin = tmp_path / "plug"
    (plugin / ".claude-plugin").mkdir(parents=True)
    (plugin / ".claude-plugin" / "plugin.json").write_text('{"name": "p", "skills": ["./extra"]}')
    for sub in ("skills/a", "extra/b", "tests/fixtures/c", "."):
        (plugin / sub).mkdir(parents=True, exist_ok=True)
    assert plugin_root(plugin / "skills" / "a") == plugin
    assert plugin_root(plugin / "extra" / "b") == plugin
    assert plugin_root(plugin) == plugin
    assert plugin_root(plugin / "tests" / "fixtures" / "c") is None
    assert plugin_root(tmp_path) is None
    assert load_skill(plugin / "skills" / "a", Config()).in_plugin
    assert not load_skill(plugin / "tests" / "fixtures" / "c", Config()).in_plugin


def test_plugin_root_paths_resolve_inside_a_plugin(tmp_path):
    plugin = tmp_path / "plug"
    (plugin / ".claude-plugin").mkdir(parents=True)
    (plugin / ".claude-plugin" / "plugin.json").write_text('{"name": "p"}')
    root = plugin / "skills" / "s"
    (root / "references").mkdir(parents=True)
    (root / "references" / "x.md").write_text("# X\n")
    (root / "SKILL.md").write_text(
        "---\nname: s\ndescription: d\n---\n"
        '`Read("${CLAUDE_PLUGIN_ROOT}/skills/s/references/x.md")` '
        '`Read("${CLAUDE_PLUGIN_ROOT}/skills/s/references/y.md")`\n'
    )
    skill = load_skill(root, Config())
    assert [h.message.split(":")[0] for h in hits_of(skill, CHECKS["LK004"])] == [
        "Read() path ${CLAUDE_PLUGIN_ROOT}/skills/s/references/y.md"
    ]
    assert hits_of(skill, CHECKS["LK006"]) == []


# --------------------------------------------------------------------------- external


class _Handler(http.server.BaseHTTPRequestHandler):
    requests: ClassVar[list[tuple[str, str]]] = []

    def _answer(self, body: bool):
        type(self).requests.append((self.command, self.path))
        if self.path.startswith("/nohead") and self.command == "HEAD":
            self.send_response(405)
        elif self.path.startswith("/ok") or self.path.startswith("/nohead"):
            self.send_response(200)
        elif self.path.startswith("/denied"):
            self.send_response(403)
        elif self.path.startswith("/boom"):
            self.send_response(500)
        else:
            self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self):
        self._answer(False)

    def do_GET(self):
        self._answer(True)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Handler.requests = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def make_skill(tmp_path: Path, base: str) -> Path:
    root = tmp_path / "ext"
    root.mkdir()
    (root / "SKILL.md").write_text(
        "---\nname: ext\ndescription: d\n---\n# Ext\n\n"
        f"[ok]({base}/ok) [ok again]({base}/ok#part) [gone]({base}/gone)\n\n"
        f"[no HEAD]({base}/nohead) [denied]({base}/denied) ![broken]({base}/boom.png)\n",
        encoding="utf-8",
    )
    return root


def test_check_external_reports_dead_links_with_lines(tmp_path, server):
    skill = load_skill(make_skill(tmp_path, server), Config())
    hits = links.check_external([skill], timeout=5, workers=4)
    assert sorted((h.line, h.message) for h in hits) == [
        (7, f"{server}/gone: HTTP 404"),
        (9, f"{server}/boom.png: HTTP 500"),
    ]
    # /ok is fetched once although linked twice; HEAD 405 falls back to GET
    assert _Handler.requests.count(("HEAD", "/ok")) == 1
    assert ("GET", "/nohead") in _Handler.requests


def test_check_external_cache_skips_known_good_urls(tmp_path, server):
    skill = load_skill(make_skill(tmp_path, server), Config())
    cache = tmp_path / "cache"
    links.check_external([skill], timeout=5, workers=2, cache_dir=cache)
    cached = json.loads((cache / "external-links.json").read_text())
    assert set(cached) == {f"{server}/ok", f"{server}/nohead", f"{server}/denied"}
    _Handler.requests = []
    hits = links.check_external([skill], timeout=5, workers=2, cache_dir=cache)
    assert len(hits) == 2  # failures are never cached, so they are fetched and reported again
    assert sorted(p for _, p in _Handler.requests) == ["/boom.png", "/gone"]


def test_check_external_connection_refused_is_reported(tmp_path):
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    skill = load_skill(make_skill(tmp_path, f"http://127.0.0.1:{port}"), Config())
    hits = links.check_external([skill], timeout=5, workers=2)
    assert len(hits) == 6 and all("refused" in h.message.lower() for h in hits)


def test_corrupt_cache_file_is_ignored(tmp_path, server):
    skill = load_skill(make_skill(tmp_path, server), Config())
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "external-links.json").write_text("{not json")
    assert len(links.check_external([skill], timeout=5, cache_dir=tmp_path / "cache")) == 2


def test_read_templates_are_not_paths():
    mentions = mention_facts.path_mentions(
        doc('`Read("${CLAUDE_SKILL_DIR}/references/<rule>.md")` `Read("references/{x}.md")`\n')
    )
    assert mentions == []


def test_own_plugin_paths_resolve_for_a_skill_copied_out_of_its_plugin(tmp_path):
    root = tmp_path / "solo"
    (root / "references").mkdir(parents=True)
    (root / "references" / "x.md").write_text("# X\n")
    (root / "SKILL.md").write_text(
        "---\nname: solo\ndescription: d\n---\n"
        '`Read("${CLAUDE_PLUGIN_ROOT}/skills/solo/references/x.md")` '
        '`Read("${CLAUDE_PLUGIN_ROOT}/skills/solo/references/y.md")` '
        '`Read("${CLAUDE_PLUGIN_ROOT}/skills/other/SKILL.md")`\n'
    )
    skill = load_skill(root, Config())
    assert [h.message.split(":")[0] for h in hits_of(skill, CHECKS["LK004"])] == [
        "Read() path ${CLAUDE_PLUGIN_ROOT}/skills/solo/references/y.md"
    ]
    assert len(hits_of(skill, CHECKS["LK006"])) == 3


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                *'ab/ .#`"()$}{\n-<*',
                *["Read(", "${CLAUDE_SKILL_DIR}", "references/", "${CLAUDE_X}", "scripts/", ".md"],
            ]
        ),
        max_size=40,
    ).map("".join)
)
def test_path_mentions_never_crash_and_point_inside_the_text(text):
    d = doc(text)
    for m in mention_facts.path_mentions(d):
        line = d.lines[m.line - 1]
        assert 1 <= m.column <= len(line) + 1


def test_anchors_into_markdown_outside_references_are_checked(tmp_path):
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "guide.md").write_text("# Guide\n\n## Usage\n")
    (tmp_path / "SKILL.md").write_text(
        "---\nname: t\ndescription: d\n---\n[ok](assets/guide.md#usage) [bad](assets/guide.md#setup)\n"
    )
    skill = load_skill(tmp_path, Config())
    assert [h.message for h in hits_of(skill, CHECKS["LK002"])] == [
        "link assets/guide.md#setup: no heading or anchor #setup in assets/guide.md"
    ]


def test_a_path_in_a_code_span_that_crosses_a_line_break_keeps_its_source_column():
    # Found by the property test above: the span's text has a space where the source has a
    # line break, so offsets into the text are not columns of the source.
    d = doc("intro `see\n   references/x.md` end\n")
    [mention] = mention_facts.path_mentions(d)
    assert (mention.raw, mention.line, mention.column) == ("references/x.md", 2, 4)


def test_a_path_in_a_named_sibling_skill_or_the_plugin_folder_is_not_broken(tmp_path):
    plugin = tmp_path / "finetune-kit"
    (plugin / ".claude-plugin").mkdir(parents=True)
    (plugin / ".claude-plugin" / "plugin.json").write_text('{"name": "finetune-kit"}')
    (plugin / "scripts").mkdir()
    (plugin / "scripts" / "plan.py").write_text("print('plan')\n")
    catalog = plugin / "skills" / "model-selection"
    (catalog / "references").mkdir(parents=True)
    (catalog / "SKILL.md").write_text("---\nname: model-selection\ndescription: x\n---\n")
    (catalog / "references" / "catalog.md").write_text("# Models\n")
    export = plugin / "skills" / "export"
    export.mkdir(parents=True)
    (export / "SKILL.md").write_text(
        "---\nname: export\ndescription: Export models. Use when shipping.\n---\n"
        "Pick a base model with `model-selection`; its\n`references/catalog.md` lists them.\n"
        "Plan the run with `scripts/plan.py` from the plugin folder.\n"
        "Missing: `references/quantize.md`.\n"
    )
    assert findings(export, select="LK004") == [("SKILL.md", 8, "LK004")]


def test_placeholder_word_targets_warn_and_real_names_still_fail(tmp_path):
    # A citation template from a real skill's shape: `(url)` names no file. A missing file
    # with an ordinary name, even without a suffix, stays an error.
    (tmp_path / "SKILL.md").write_text(
        "---\nname: cite\ndescription: Cites papers. Use when writing references.\n---\n"
        "# Cite\n\nCite like [Doe et al., 2024](url) or [the guide](TODO).\n"
        "See [the licence](LICENSE).\n"
    )
    report = run_check([tmp_path], Options(select=("LK001",)))
    got = [(d.line, d.severity, d.message.split(":")[0]) for d in report.diagnostics]
    assert got == [
        (7, Severity.WARNING, "link target `url` is a placeholder word, not a file"),
        (7, Severity.WARNING, "link target `TODO` is a placeholder word, not a file"),
        (8, Severity.ERROR, "link LICENSE"),
    ]
