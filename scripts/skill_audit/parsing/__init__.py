"""Parsers behind `skill_audit.model`: frontmatter (YAML with key lines) and markdown (tokens)."""
