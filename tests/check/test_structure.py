"""ST checks beyond the fixture pairs (test_fixtures.py): default budgets and the token estimate."""

from __future__ import annotations

from skill_audit.checks.structure import estimate_tokens

from tests.check.conftest import findings, write_skill


def test_token_estimate_is_characters_over_four_rounded_up():
    assert [estimate_tokens("x" * n) for n in (0, 1, 4, 5, 8)] == [0, 1, 1, 2, 2]


def test_default_budgets(tmp_path):
    fm = "name: s\ndescription: Use when testing.\n"
    small = write_skill(tmp_path / "small" / "s", fm, "# S\n" + "line\n" * 400)
    assert findings(small, select="ST003,ST004") == []
    big = write_skill(tmp_path / "big" / "s", fm, "# S\n" + ("y" * 60 + "\n") * 496)
    # 4 frontmatter lines + 497 body lines = 501 > 500; body 30,260 chars = 7,565 tokens > 5,000
    assert findings(big, select="ST003,ST004") == [
        ("SKILL.md", 5, "ST004"),
        ("SKILL.md", 501, "ST003"),
    ]
    ref = big / "references" / "r.md"
    ref.parent.mkdir()
    ref.write_text("z" * 40_000)
    assert findings(big, select="ST005") == []
    ref.write_text("z" * 40_001)
    assert findings(big, select="ST005") == [("references/r.md", 1, "ST005")]


def test_limits_come_from_config(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.skill-audit.limits]\nskill-md-lines = 3\n")
    write_skill(tmp_path / "skills" / "s", "name: s\ndescription: Use when testing.\n")
    assert findings(tmp_path, select="ST003") == [("skills/s/SKILL.md", 4, "ST003")]


def test_nested_skills_are_not_part_of_the_outer_skill(tmp_path):
    outer = write_skill(tmp_path / "outer", "name: outer\ndescription: Use when testing.\n")
    inner = write_skill(
        outer / "tests" / "fixture", "name: fixture\ndescription: Use when testing.\n"
    )
    (inner / "dangling.md").symlink_to("nowhere.md")
    assert findings(outer, select="ST002") == []
