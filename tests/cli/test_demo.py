"""`storycheck demo` tells the CLI where its database is, and the CLI then reaches the demo."""

from __future__ import annotations

import shlex
import signal
import socket
import subprocess
from pathlib import Path

from tests.cli.conftest import STORYCHECK_BIN, cli_env
from tests.helpers import free_port, wait_until


def test_demo_prints_the_export_line_and_the_cli_watches_the_demo_server(tmp_path: Path, run_cli):
    workdir = tmp_path / "cwd"  # run_cli's working directory: it must stay empty
    port = free_port()
    database = tmp_path / "demo.db"
    out = tmp_path / "demo.out"
    env = cli_env(tmp_path / "not-this.db")
    with open(out, "wb") as stdout:
        demo = subprocess.Popen(
            [str(STORYCHECK_BIN), "demo", "--port", str(port), "--sim-port", "0"]
            + ["--proxies", "2", "--profiles", "40", "--database", str(database)],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.DEVNULL,
        )
    try:
        wait_until(
            lambda: b"export STORYCHECK_DATABASE_URL=" in out.read_bytes(),
            timeout=60,
            what="the demo's export line",
        )
        export = next(
            line for line in out.read_text().splitlines() if "export STORYCHECK_DATABASE_URL=" in line
        )
        url = shlex.split(export.split("=", 1)[1])[0]
        assert url == f"sqlite:///{database}"

        # `batches --watch` on the demo's file: it finds the demo server, redraws until Ctrl-C.
        watch_out = tmp_path / "watch.out"
        with open(watch_out, "wb") as stdout:
            watch = subprocess.Popen(
                [str(STORYCHECK_BIN), "batches", "--watch"],
                cwd=workdir,
                env=cli_env(database),
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=subprocess.PIPE,
            )
        try:
            wait_until(lambda: b"Batches at" in watch_out.read_bytes(), timeout=60, what="table")
            watch.send_signal(signal.SIGINT)
            assert watch.wait(timeout=30) == 0  # Ctrl-C is how a watch ends
        finally:
            watch.kill()
        assert watch.stderr is not None
        assert watch.stderr.read().decode().strip() == (
            f"Using the storycheck server at http://127.0.0.1:{port} (it serves this database)"
        )
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=30)
    assert list(workdir.iterdir()) == []  # no ./storycheck.db (nor anything else) appeared
    assert not (tmp_path / "not-this.db").exists()


def test_demo_on_a_taken_port_says_which_variable_to_set(tmp_path: Path, run_cli) -> None:
    # `run_cli` (unused otherwise) skips the test, as its neighbours, when the executable
    # is not installed.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [str(STORYCHECK_BIN), "demo", "--port", str(port), "--sim-port", "0",
             "--database", str(tmp_path / "demo.db")],
            cwd=tmp_path, env=cli_env(tmp_path / "unused.db"), capture_output=True, timeout=60,
        )
    assert result.returncode == 1
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and f"Port {port} (server) is already in use" in lines[0]
    assert "PORT=" in lines[0]
    assert b"Open http" not in result.stdout  # nothing printed before the check
    assert not (tmp_path / "demo.db").exists()
