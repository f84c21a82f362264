"""Finding what the user named: niches (case-insensitively), usernames in files, profile ids."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storycheck.cli.client import ApiClient, CliError

PAGE_SIZE = 1000  # the API's largest profile page
# Up to this many names are looked up one by one; more, and the niche is read page by page.
SEARCH_ONE_BY_ONE = 20


def niche_key(name: str) -> str:
    """Niche names match ignoring case and surrounding blanks."""
    return name.strip().casefold()


def find_niche(client: ApiClient, name: str) -> dict[str, Any] | None:
    """The niche called `name`, matched case-insensitively (an exact spelling wins a tie)."""
    niches = client.get("/api/niches")
    matches = [n for n in niches if niche_key(n["name"]) == niche_key(name)]
    exact = [n for n in matches if n["name"] == name.strip()]
    if len(exact) == 1:
        return dict(exact[0])
    if len(matches) > 1:
        spellings = ", ".join(repr(n["name"]) for n in matches)
        raise CliError(f"Several niches are called {name!r} ({spellings}); use the exact spelling")
    return dict(matches[0]) if matches else None


def require_niche(
    client: ApiClient, name: str, *, create: bool = False, hint: str = ""
) -> dict[str, Any]:
    """The niche called `name`; created when missing only if `create` says so.

    An unknown niche is a `CliError` listing the niches there are, then `hint`.
    """
    niche = find_niche(client, name)
    if niche is not None:
        return niche
    if create:
        return dict(client.post("/api/niches", {"name": name.strip()}))
    names = [n["name"] for n in client.get("/api/niches")]
    known = f" (niches: {', '.join(names)})" if names else " (there are no niches yet)"
    raise CliError(f"No niche named {name!r}{known}{hint}")


@dataclass
class Usernames:
    """Usernames read from a file and the command line, in order, without duplicates."""

    names: list[str] = field(default_factory=list)
    invalid: list[tuple[str, int, str]] = field(default_factory=list)  # (source, line, text)
    _keys: set[str] = field(default_factory=set)

    def add(self, text: str, source: str, line: int) -> None:
        """Add one line (`name`, `@name` or a profile URL); remember it if it is not one."""
        from storycheck.profiles.models import username_key
        from storycheck.profiles.service import extract_username

        username, _reason = extract_username(text)
        if username is None:
            self.invalid.append((source, line, text))
        elif username_key(username) not in self._keys:
            self._keys.add(username_key(username))
            self.names.append(username)

    def invalid_summary(self) -> str:
        """`3 lines are not usernames, e.g. accounts.txt:5 'bad name'` ('' when none)."""
        if not self.invalid:
            return ""
        source, line, text = self.invalid[0]
        count = len(self.invalid)
        noun = "line is" if count == 1 else "lines are"
        return f"{count} {noun} not a username or profile URL, e.g. {source}:{line} {text[:60]!r}"


def read_file(path: str) -> bytes:
    """The bytes of a file the user named; a one-line `CliError` when it cannot be read."""
    try:
        return Path(path).read_bytes()
    except IsADirectoryError:
        raise CliError(f"Cannot read {path}: it is a directory") from None
    except OSError as exc:
        raise CliError(f"Cannot read {path}: {exc.strerror or exc}") from None


def read_usernames(path: str | None, extra: tuple[str, ...]) -> Usernames:
    """Usernames from FILE (one per line) and the command line; a bad file is a `CliError`."""
    found = Usernames()
    if path is not None:
        raw = read_file(path)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CliError(
                f"{path} is not UTF-8 text (invalid byte at position {exc.start})"
            ) from exc
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                found.add(line.strip(), path, number)
    for index, name in enumerate(extra, start=1):
        found.add(name, "argument", index)
    if not found.names:
        if found.invalid:
            raise CliError(f"No usernames to check: {found.invalid_summary()}")
        where = path if path is not None else "the command line"
        raise CliError(f"No usernames to check: {where} is empty or only has blank lines")
    return found


def profile_ids(client: ApiClient, niche_id: str, usernames: list[str]) -> list[str]:
    """The profile ids of `usernames` (which exist by now), in the same order."""
    from storycheck.profiles.models import username_key

    wanted = {username_key(name): name for name in usernames}
    found: dict[str, str] = {}
    if len(wanted) > SEARCH_ONE_BY_ONE:
        page = 1
        while True:
            body = client.get("/api/profiles", niche_id=niche_id, page=page, page_size=PAGE_SIZE)
            for profile in body["profiles"]:
                key = username_key(profile["username"])
                if key in wanted:
                    found[key] = profile["id"]
            if not body["profiles"] or page * PAGE_SIZE >= body["total"]:
                break
            page += 1
    # Names stored in another niche (or a short list): ask for each one.
    for key, name in wanted.items():
        if key in found:
            continue
        body = client.get("/api/profiles", search=name, page_size=50)
        for profile in body["profiles"]:
            if username_key(profile["username"]) == key:
                found[key] = profile["id"]
                break
        else:
            raise CliError(f"Account {name!r} was not stored; import it and try again")
    return [found[key] for key in wanted]
