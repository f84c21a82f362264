"""The `storycheck` command: serve, check, stories, batches, niches, import, proxies, db, keys,
simulate, demo, worker, doctor, alerts.

Every failure a user can cause prints one line on stderr (`Error: …`) and exits non-zero;
`-v` adds the traceback of an unexpected failure.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import click

# Commands that run services keep INFO logs; the client commands print only warnings.
SERVICE_COMMANDS = {"serve", "demo", "worker", "simulate", "db", "keys"}
EXIT_INTERRUPTED = 130
EXIT_BAD_CONFIG = 2  # like a usage error: nothing ran


def _setup_logging(verbose: bool, service: bool) -> None:
    from storycheck.logs import configure_logging

    configure_logging(verbose)  # the redacting filter on every handler, quiet noisy libraries
    if not verbose and not service:
        logging.getLogger().setLevel(logging.WARNING)


class StorycheckGroup(click.Group):
    """A click group whose every error is one line on stderr, never a usage block or traceback."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command; turn every exception into one line and an exit code.

        Always exits (`standalone_mode` is accepted for click's callers and ignored): the CLI's
        promise of one-line errors holds however it is invoked.
        """
        verbose = bool(args and ("-v" in args or "--verbose" in args)) or (
            args is None and ("-v" in sys.argv[1:2] or "--verbose" in sys.argv[1:2])
        )
        try:
            result = super().main(
                args, prog_name, complete_var, standalone_mode=False, **extra
            )
        except click.UsageError as exc:
            command = exc.ctx.command_path if exc.ctx is not None else "storycheck"
            _fail(f"{exc.format_message()} (see `{command} --help`)", exc.exit_code)
        except click.ClickException as exc:
            _fail(exc.format_message(), exc.exit_code)
        except (click.Abort, KeyboardInterrupt, EOFError):
            _fail("Interrupted", EXIT_INTERRUPTED)
        except Exception as exc:  # a bug or an environment failure: still one line
            from storycheck.config import ConfigError

            if isinstance(exc, ConfigError):  # a bad STORYCHECK_* value: the message says which
                _fail(str(exc), EXIT_BAD_CONFIG)
            if verbose:
                raise
            _fail(f"{type(exc).__name__}: {exc} (run with -v for details)", 1)
        sys.exit(result if isinstance(result, int) else 0)


def _fail(message: str, code: int) -> NoReturn:
    first_line = message.strip().splitlines()[0] if message.strip() else "failed"
    click.echo(f"Error: {first_line}", err=True)
    sys.exit(code)


# Each command is imported only when it runs (or for --help): `storycheck stories` should not
# pay for Celery, aiohttp and the simulator.
COMMANDS = {
    "serve": "storycheck.cli.server:serve",
    "db": "storycheck.cli.server:db",
    "keys": "storycheck.cli.server:keys",
    "check": "storycheck.cli.check:check",
    "stories": "storycheck.cli.commands:stories",
    "batches": "storycheck.cli.commands:batches",
    "niches": "storycheck.cli.niches:niches",
    "import": "storycheck.cli.commands:import_profiles",
    "simulate": "storycheck.simulator.command:simulate",
    "demo": "storycheck.demo:demo",
    "worker": "storycheck.distributed.worker:worker",
    "doctor": "storycheck.cli.doctor:doctor",
    "alerts": "storycheck.alerts.command:alerts",
    "proxies": "storycheck.cli.proxies:proxies",
}


class LazyGroup(StorycheckGroup):
    """A group that imports a command's module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command name, sorted."""
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import and return the command called `cmd_name` (None when there is none)."""
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        return command if isinstance(command, click.Command) else None


@click.group(cls=LazyGroup)
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail (and show tracebacks).")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """storycheck: find which Instagram accounts have an active story right now."""
    _setup_logging(verbose, service=ctx.invoked_subcommand in SERVICE_COMMANDS)


def run_server(*args: Any, **kwargs: Any) -> None:
    """`storycheck.cli.server.run_server`, kept importable from here (demo and tests use it)."""
    from storycheck.cli.server import run_server as run

    run(*args, **kwargs)
