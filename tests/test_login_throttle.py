"""The login throttle: per account and per address, a doubling wait, in the database.

The clock the throttle reads is replaced by one the tests move, so no test sleeps or times
anything: they count password checks and read the waits the throttle answers with.
"""

from __future__ import annotations

import urllib.parse
from datetime import UTC, datetime, timedelta

import pytest
from conftest import PASSWORD, create_user, make_app
from flask import Flask
from flask.testing import FlaskClient
from live import at_once, request, served
from sqlalchemy import func, select

from blog.extensions import db
from blog.models import LoginThrottle
from blog.services import throttle, users

START = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(throttle, "utcnow", fake)
    return fake


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The usernames whose password was checked, in order."""
    seen: list[str] = []
    real = users.authenticate

    def counting(username: str, password: str):  # noqa: ANN202
        seen.append(username)
        return real(username, password)

    monkeypatch.setattr("blog.auth.views.authenticate", counting)
    return seen


def attempt(client: FlaskClient, username: str, password: str = "wrong", **environ: str):
    return client.post(
        "/login",
        data={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": "203.0.113.7", **environ},
    )


def rows(app: Flask) -> dict[str, int]:
    with app.app_context():
        return {row.key: row.failures for row in db.session.scalars(select(LoginThrottle))}


# --- the rule, pure ----------------------------------------------------------------------


def test_wait_is_none_within_the_allowance_then_doubles_to_a_ceiling() -> None:
    longest = timedelta(seconds=900)
    waits = [throttle.wait_after(n, 5, longest).total_seconds() for n in range(1, 17)]
    assert waits == [0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]
    assert throttle.wait_after(10**6, 5, longest) == longest  # no overflow on huge counts


# --- one account -------------------------------------------------------------------------


def test_failures_past_the_allowance_wait_longer_each_time(
    app: Flask, client: FlaskClient, clock: Clock, checks: list[str]
) -> None:
    create_user(app, "alice", "author")
    assert [attempt(client, "alice").status_code for _ in range(5)] == [401] * 5
    refused = attempt(client, "alice")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    page = refused.get_data(as_text=True)
    assert "Too many failed logins: please wait 1 second and try again." in page
    assert 'value="alice"' in page  # the form keeps the username
    assert len(checks) == 5  # the refused attempt's password was never looked at

    waits = []
    for _ in range(4):
        clock.advance(int(attempt(client, "alice").headers.get("Retry-After", "0")))
        assert attempt(client, "alice").status_code == 401  # its turn: checked, wrong
        waits.append(int(attempt(client, "alice").headers["Retry-After"]))
    assert waits == [2, 4, 8, 16]
    assert len(checks) == 9


def test_a_right_password_waits_too(
    app: Flask, client: FlaskClient, clock: Clock, checks: list[str]
) -> None:
    create_user(app, "alice", "author")
    for _ in range(5):
        attempt(client, "alice")
    response = attempt(client, "alice", PASSWORD)
    assert response.status_code == 429
    assert client.get("/admin/").status_code == 302  # not logged in
    clock.advance(1)
    assert attempt(client, "alice", PASSWORD).status_code == 302  # now it is checked
    assert client.get("/admin/").status_code == 200


def test_a_good_login_forgets_the_accounts_failures(
    app: Flask, client: FlaskClient, clock: Clock
) -> None:
    create_user(app, "alice", "author")
    for _ in range(4):
        assert attempt(client, "alice").status_code == 401
    assert attempt(client, "alice", PASSWORD).status_code == 302
    client.post("/logout")
    assert "user:alice" not in rows(app)
    assert [attempt(client, "alice").status_code for _ in range(6)] == [401] * 5 + [429]


def test_the_account_count_ignores_case_and_spaces(app: Flask, client: FlaskClient, clock: Clock):
    create_user(app, "alice", "author")
    names = ["alice", "ALICE", " Alice", "alice ", "aLiCe"]
    assert [attempt(client, name).status_code for name in names] == [401] * 5
    assert attempt(client, "Alice").status_code == 429


def test_the_account_is_throttled_from_every_address(
    app: Flask, client: FlaskClient, clock: Clock
) -> None:
    """A guesser who changes address for each try still meets the account's limit."""
    create_user(app, "alice", "author")
    codes = [attempt(client, "alice", REMOTE_ADDR=f"198.51.100.{n}").status_code for n in range(7)]
    assert codes == [401] * 5 + [429] * 2


def test_failures_are_forgotten_after_the_window(
    app: Flask, client: FlaskClient, clock: Clock
) -> None:
    create_user(app, "alice", "author")
    for _ in range(5):
        attempt(client, "alice")
    clock.advance(app.config["LOGIN_FAILURE_WINDOW"] + 1)
    assert [attempt(client, "alice").status_code for _ in range(6)] == [401] * 5 + [429]


def test_the_wait_stops_growing_at_the_ceiling(
    app: Flask, client: FlaskClient, clock: Clock
) -> None:
    app.config.update(LOGIN_LONGEST_WAIT=10, LOGIN_FAILURE_WINDOW=10**6)
    waits = []
    for _ in range(30):
        response = attempt(client, "nobody")
        if response.status_code == 429:
            waits.append(int(response.headers["Retry-After"]))
            clock.advance(waits[-1])
    assert waits[-3:] == [10, 10, 10]
    assert max(waits) == 10


# --- one address ---------------------------------------------------------------------------


def test_an_address_guessing_many_accounts_is_throttled(
    app: Flask, client: FlaskClient, clock: Clock, checks: list[str]
) -> None:
    free = app.config["LOGIN_FREE_FAILURES_PER_ADDRESS"]
    codes = [attempt(client, f"user{n}").status_code for n in range(free + 1)]
    assert codes == [401] * free + [429]
    # Elsewhere the same accounts are not held back by this address's guesses.
    assert attempt(client, "user0", REMOTE_ADDR="192.0.2.1").status_code == 401
    assert len(checks) == free + 1


def test_a_good_login_takes_back_only_its_own_attempt_from_the_address(
    app: Flask, client: FlaskClient, clock: Clock
) -> None:
    create_user(app, "alice", "author")
    for n in range(3):
        attempt(client, f"guess{n}")
    assert attempt(client, "alice", PASSWORD).status_code == 302
    assert rows(app)["ip:203.0.113.7"] == 3  # the guesses stay; the good login did not count


def test_a_blank_username_counts_against_the_address(
    app: Flask, client: FlaskClient, clock: Clock
) -> None:
    app.config["LOGIN_FREE_FAILURES_PER_ADDRESS"] = 2
    codes = [attempt(client, "x" * 40).status_code for _ in range(3)]
    assert codes[-1] == 429


def test_rows_past_their_window_are_swept_away(
    app: Flask, client: FlaskClient, clock: Clock
) -> None:
    for n in range(5):
        attempt(client, f"sprayed{n}", REMOTE_ADDR=f"198.51.100.{n}")
    assert len(rows(app)) == 10
    clock.advance(app.config["LOGIN_FAILURE_WINDOW"] + 1)
    attempt(client, "someone-new", REMOTE_ADDR="192.0.2.9")
    assert set(rows(app)) == {"ip:192.0.2.9", "user:someone-new"}


# --- at once -----------------------------------------------------------------------------

BURST = 24


def test_a_burst_of_guesses_gets_no_more_checks_than_the_allowance(
    app: Flask, database_uri: str, tmp_path, checks: list[str], clock: Clock
) -> None:
    """Simultaneous guesses from many threads, each with its own database connection: they
    claim their turns in the database, so at most the allowance is checked, and the count
    stored is exactly the number of checks. (``app`` empties the tables afterwards.)"""
    served_app = make_app(database_uri, tmp_path / "served")
    create_user(served_app, "alice", "author")
    body = urllib.parse.urlencode({"username": "alice", "password": "guess"}).encode()
    with served(served_app) as base:
        codes = at_once([lambda: request(base + "/login", body, "POST")] * BURST)
    free = served_app.config["LOGIN_FREE_FAILURES_PER_ACCOUNT"]
    assert set(codes) <= {401, 429}
    assert 1 <= codes[401] <= free, codes
    assert codes[401] == len(checks)
    assert codes[429] == BURST - codes[401]
    assert rows(served_app)["user:alice"] == codes[401]
    with served_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(LoginThrottle)) == 2
        db.engine.dispose()
