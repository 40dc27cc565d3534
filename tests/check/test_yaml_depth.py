"""The nesting guard is measured on the text, so its refusal is ours whatever PyYAML version
is installed, and ordinary YAML that merely contains brackets is never refused."""

import pytest
from skill_audit.parsing.frontmatter import MAX_DEPTH, parse_frontmatter
from skill_audit.parsing.yaml_depth import nesting_problem

DEEP = MAX_DEPTH + 1


@pytest.mark.parametrize(
    "text, line",
    [
        ("a: " + "[" * 5000 + "]" * 5000, 0),  # flow run: PyYAML >= 6.0.4 has its own limit
        ("a: " + "{x: " * DEEP + "1" + "}" * DEEP, 0),
        ("top:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, DEEP + 2)), DEEP - 1),
        ("a:\n  " + "- " * DEEP + "x", 1),  # compact nested sequences on one line
        ("a: [\n" + "[\n" * DEEP + "]\n" * DEEP + "]", DEEP - 2),  # flow spread over lines
    ],
)
def test_deep_text_is_refused_at_its_line(text, line):
    assert nesting_problem(text, MAX_DEPTH) == (f"YAML nested deeper than {MAX_DEPTH} levels", line)


@pytest.mark.parametrize(
    "text",
    [
        "a: '" + "[" * 200 + "'",  # brackets inside a quoted scalar
        'a: "' + "{" * 200 + '"',
        "a: x  # " + "[" * 200,  # in a comment
        "a: |\n  " + "[" * 200 + "\n  " + "\n  ".join(" " * i + "y" for i in range(200)),
        "a: it's " + "[" * 3,  # an apostrophe in a plain scalar is not a quote
        "metadata:\n  tags: [a, b, [c, d]]\n  nested: {x: {y: 1}}\nname: ok",
    ],
)
def test_brackets_that_do_not_nest_are_not_counted(text):
    assert nesting_problem(text, MAX_DEPTH) is None


def test_frontmatter_refusal_names_the_file_line():
    lines = ["---", "name: s", "a: " + "[" * 5000 + "]" * 5000, "---"]
    fm = parse_frontmatter(lines)
    assert fm.error == f"YAML nested deeper than {MAX_DEPTH} levels"
    assert fm.error_line == 3 and fm.data is None
