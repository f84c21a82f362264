"""`storycheck check`: create a batch, run it to the end while showing progress, list the stories.

What is checked:

* `storycheck check NICHE` — every active account of the niche (matched ignoring case);
* `storycheck check --niche NICHE USERNAME...` and `--file FILE --niche NICHE` — exactly
  those accounts; names not stored yet are imported into NICHE first. NICHE must exist
  (ignoring case) unless `--create-niche` is given;
* `storycheck check --batch ID` — follow an existing batch (resuming it when paused).

Exit codes: 0 when the batch is done; 1 on an error (one line on stderr); 130 on Ctrl-C,
after pausing the batch so no check runs on behind the user's back (`--batch ID` resumes it).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import click

from storycheck.batches.answers import batch_answers
from storycheck.cli.client import ApiClient, ApiError, CliError, Target, connect, target_options
from storycheck.cli.lookup import profile_ids, read_usernames, require_niche
from storycheck.cli.output import (
    STORY_COLUMNS,
    console,
    duration,
    parse_time,
    print_csv,
    print_json,
    stories_table,
    story_url,
)
from storycheck.cli.watch import wait_done

EXIT_INTERRUPTED = 130
RESULTS_PAGE = 500


@click.command(
    epilog="Exit codes: 0 the batch is done; 1 an error (one line on stderr); 130 Ctrl-C, "
    "which pauses the batch (`storycheck check --batch ID` resumes it)."
)
@click.argument("names", nargs=-1, metavar="[NICHE | USERNAME...]")
@click.option("--file", "file_path", metavar="FILE", help="Usernames or profile URLs, one a line.")
@click.option("--niche", metavar="NAME", help="Niche of the accounts of --file / USERNAME...")
@click.option("--create-niche", is_flag=True, help="Create --niche when no niche has that name.")
@click.option("--batch", "batch_id", metavar="ID", help="Follow (and resume) an existing batch.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the accounts with a story as CSV.")
@click.option("-q", "--quiet", is_flag=True, help="No progress display.")
@target_options
def check(
    names: tuple[str, ...],
    file_path: str | None,
    niche: str | None,
    create_niche: bool,
    batch_id: str | None,
    as_json: bool,
    as_csv: bool,
    quiet: bool,
    server: str | None,
    token: str | None,
) -> None:
    """Check accounts now: a whole NICHE, --file FILE or USERNAME... (with --niche).

    Creates a batch (importing names that are new), runs it with a live progress bar and
    prints the accounts that have a live story. Without --server the engine runs in this
    process, unless a `storycheck serve` already serves the database: then it does the work.
    """
    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    plan = _plan(names, file_path, niche, batch_id)
    data_out = as_json or as_csv
    display = "none" if quiet else ("bar" if _is_tty(data_out) else "lines")
    say = _Say(to_stderr=data_out, quiet=quiet)

    with connect(Target(server, token), engine=True) as client:
        if batch_id is not None:
            batch = _follow(client, batch_id, say)
        else:
            batch = _create(client, plan, create_niche=create_niche, say=say)
        started = datetime.now(UTC)
        try:
            batch = wait_done(client, batch["id"], display=display, to_stderr=data_out)
        except KeyboardInterrupt:
            raise _interrupted(client, batch["id"]) from None
        stories = batch_stories(client, batch)
    _report(batch, stories, started, as_json=as_json, as_csv=as_csv, say=say)


class Interrupted(click.ClickException):
    """Ctrl-C during a check: the batch was paused (exit code 130)."""

    exit_code = EXIT_INTERRUPTED


@dataclass(frozen=True)
class _Plan:
    """What the arguments ask for: a whole niche (no usernames), or listed usernames."""

    niche: str | None
    usernames: list[str]
    skipped: str  # what was not a username, for a notice


def _plan(
    names: tuple[str, ...], file_path: str | None, niche: str | None, batch_id: str | None
) -> _Plan:
    if batch_id is not None:
        if names or file_path or niche:
            raise click.UsageError("--batch takes no NICHE, USERNAME, --file or --niche")
        return _Plan(None, [], "")
    if file_path is None and not names and niche is not None:
        return _Plan(niche, [], "")  # `--niche NAME` alone: the whole niche
    if file_path is None and niche is None:
        if not names:
            raise click.UsageError("name a NICHE, or give --file FILE or USERNAME... with --niche")
        if len(names) > 1:
            raise click.UsageError("checking USERNAME... needs --niche NAME (where new names go)")
        return _Plan(names[0], [], "")
    if niche is None:
        raise click.UsageError("--file needs --niche NAME (where new names go)")
    found = read_usernames(file_path, names)
    return _Plan(niche, found.names, found.invalid_summary())


class _Say:
    """Notices for people: on stdout, or stderr when stdout carries JSON/CSV; none with -q."""

    def __init__(self, *, to_stderr: bool, quiet: bool) -> None:
        self.to_stderr = to_stderr
        self.quiet = quiet

    def __call__(self, message: str) -> None:
        if not self.quiet:
            click.echo(message, err=self.to_stderr)


def _is_tty(to_stderr: bool) -> bool:
    return (sys.stderr if to_stderr else sys.stdout).isatty()


def _create(client: ApiClient, plan: _Plan, *, create_niche: bool, say: _Say) -> dict[str, Any]:
    assert plan.niche is not None
    if plan.usernames:
        hint = "" if create_niche else "; add --create-niche to create it"
        niche = require_niche(client, plan.niche, create=create_niche, hint=hint)
    else:
        # A lone argument names a niche; accounts are checked by username with --niche.
        hint = f"; to check the account {plan.niche!r}, add --niche NAME"
        niche = require_niche(client, plan.niche, hint=hint)
    if not plan.usernames and not niche.get("profile_count"):
        raise CliError(f"Niche {niche['name']!r} has no accounts to check")
    _require_pairs(client)
    if not plan.usernames:
        batch = client.post("/api/batches", {"niche_id": niche["id"], "all_profiles": True})
        say(f"Batch {batch['id']}: {batch['total_profiles']} accounts of {niche['name']}")
        return dict(batch)
    if plan.skipped:
        say(f"Skipped: {plan.skipped}")
    report = client.post(
        f"/api/profiles/niches/{niche['id']}/import",
        content="\n".join(plan.usernames).encode(),
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )
    ids = profile_ids(client, niche["id"], plan.usernames)
    batch = client.post("/api/batches", {"niche_id": niche["id"], "profile_ids": ids})
    say(
        f"Batch {batch['id']}: {len(ids)} accounts ({report['created_count']} new in "
        f"{niche['name']})"
    )
    return dict(batch)


def _require_pairs(client: ApiClient) -> None:
    """A batch without a usable proxy + session pair would wait forever: say so at once."""
    proxies = client.get("/api/proxies")
    usable = [
        p
        for p in proxies
        if p.get("is_active") and any(s.get("status") == "active" for s in p.get("sessions", []))
    ]
    if not usable:
        raise CliError(
            "No active proxy + session pair to check with; add pairs in the web UI (Proxies) "
            "or with POST /api/proxies"
        )


def _follow(client: ApiClient, batch_id: str, say: _Say) -> dict[str, Any]:
    batch = client.get(f"/api/batches/{batch_id}", items_limit=0)
    if batch["status"] == "paused":
        # strict: a batch that cannot resume is a 409 with the reason, not a silent skip.
        batch = client.post("/api/batches/resume?strict=1", {"batch_ids": [batch_id]})[0]
        say(f"Resumed batch {batch_id}")
    return dict(batch)


def _interrupted(client: ApiClient, batch_id: str) -> Interrupted:
    """Pause the batch the user walked away from; say how to pick it up again."""
    try:
        # strict: a batch that cannot pause any more is a 409 with the reason, not a skip.
        paused = client.post("/api/batches/stop?strict=1", {"batch_ids": [batch_id]})
    except ApiError as exc:  # done or deleted meanwhile: nothing to pause
        return Interrupted(f"Interrupted ({exc.message})")
    if not paused:
        return Interrupted(f"Interrupted (batch {batch_id} was not running any more)")
    batch = paused[0]
    return Interrupted(
        f"Interrupted: paused batch {batch_id} at {batch['completed_profiles']}/"
        f"{batch['total_profiles']}; `storycheck check --batch {batch_id}` resumes it"
    )


def batch_stories(client: ApiClient, batch: dict[str, Any]) -> list[dict[str, Any]]:
    """The accounts of a batch whose story is live now, with posted/expires times."""
    niche_name = batch.get("niche", {}).get("name")
    stories: list[dict[str, Any]] = []
    page = 1
    while True:
        try:
            body = client.get(
                f"/api/batches/{batch['id']}/results",
                outcome="story",
                page=page,
                page_size=RESULTS_PAGE,
            )
        except ApiError as exc:
            if exc.status != 404 or page > 1:
                raise
            # A server without the results route: the batch payload lists the names.
            names = batch.get("profiles_with_stories", [])
            return [_story({"username": name}, niche_name) for name in names]
        stories.extend(_story(row, niche_name) for row in body["results"])
        if not body["results"] or page * RESULTS_PAGE >= body["total"]:
            break
        page += 1
    now = datetime.now(UTC)
    return [s for s in stories if (parse_time(s["expires_at"]) or now) >= now]


def _story(row: dict[str, Any], niche_name: str | None) -> dict[str, Any]:
    return {
        "username": row["username"],
        "profile_id": row.get("profile_id"),
        "niche_name": niche_name,
        "posted_at": row.get("posted_at"),
        "expires_at": row.get("expires_at"),
        "item_count": row.get("item_count"),
        "checked_at": row.get("checked_at"),
        "story_url": story_url(row["username"]),
    }


def _report(
    batch: dict[str, Any],
    stories: list[dict[str, Any]],
    started: datetime,
    *,
    as_json: bool,
    as_csv: bool,
    say: _Say,
) -> None:
    summary = {
        "id": batch["id"],
        "niche": batch.get("niche", {}).get("name"),
        "status": batch["status"],
        "total_profiles": batch["total_profiles"],
        "completed_profiles": batch["completed_profiles"],
        "stories_found": batch.get("stories_found", 0),
        "private_profiles": batch.get("private_profiles"),
        "checks_failed": batch.get("checks_failed", 0),
        "not_found": int(batch.get("not_found_profiles") or 0),
    }
    if as_json:
        print_json({"batch": summary, "stories": stories})
        return
    if as_csv:
        print_csv(stories, STORY_COLUMNS)
        return
    took = duration((datetime.now(UTC) - started).total_seconds())
    # `checks_failed` counts confirmed missing accounts too (the original contract's field);
    # they are an answer, said apart from the checks that could not be made.
    answers = batch_answers(
        completed=int(summary["completed_profiles"]),
        stories=int(summary["stories_found"] or 0),
        failed_checks=int(summary["checks_failed"] or 0),
        private=int(batch.get("private_profiles") or 0),
        not_found=int(summary["not_found"]),
    )
    no_story, private, not_found = answers.no_story, answers.private, answers.not_found
    say(
        f"Checked {summary['completed_profiles']}/{summary['total_profiles']} accounts in "
        f"{took}: {answers.stories} stories, {no_story} no story"
        + (f", {private} private (unknown: not followed)" if private else "")
        + (f", {not_found} not found (no such account)" if not_found else "")
        + (f", {answers.failed} failed (unknown)" if answers.failed else "")
    )
    if not stories:
        # "No story" holds only for the accounts that answered so: private and failed ones
        # are unknown, and are said to be.
        say(f"No live story among the {no_story} accounts that answered.")
        return
    title = f"{len(stories)} accounts with a live story"
    console().print(stories_table(stories, title=title))
