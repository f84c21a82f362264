"""storycheck: find which Instagram accounts have an active story right now."""

__version__ = "0.1.0"
