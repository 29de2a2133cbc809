"""`python -m bench` checks every database it was given before its first run, so a wrong
URL stops it at once instead of losing the figures of the databases run before it."""

from __future__ import annotations

import pytest

from bench import run


def test_a_server_that_cannot_be_reached_stops_the_benchmark_before_any_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    given = "postgresql+psycopg://bench:hunter2-secret@127.0.0.1:1/none"
    with pytest.raises(SystemExit) as stopped:
        run.main(["--database", "sqlite", "--database", given, "--duration", "1"])
    assert stopped.value.code == 2
    out, err = capsys.readouterr()
    assert "--database postgresql+psycopg://bench:***@127.0.0.1:1/none: cannot connect" in err
    assert "hunter2-secret" not in out + err
    assert "krasip at" not in out + err, "SQLite ran first"


def test_a_url_of_another_database_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        run.main(["--database", "mysql://bench:hunter2-secret@localhost/krasip"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "mysql://bench:***@localhost/krasip: neither sqlite nor a PostgreSQL URL" in err
    assert "hunter2-secret" not in err


def test_sqlite_needs_no_server() -> None:
    assert run.unusable("sqlite") is None
