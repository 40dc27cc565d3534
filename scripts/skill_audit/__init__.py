"""skill-audit: validate Agent Skills and run their snippets against real services."""

__version__ = "0.1.0"
