"""`python -m storycheck.simulator` runs the `simulate` command (used by bench scripts)."""

from storycheck.simulator.command import simulate

if __name__ == "__main__":
    simulate()
