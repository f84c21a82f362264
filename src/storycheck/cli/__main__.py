"""`python -m storycheck.cli …` runs the `storycheck` command (tests and scripts use it)."""

from storycheck.cli import main

main()
