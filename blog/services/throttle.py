"""The login throttle: per address and per account, a wait that doubles with each failure.

Counts live in the database (``login_throttle``), so they hold across workers, processes
and machines, and the default ``make run`` is as safe as a cluster. Each key (``ip:...``,
``user:...``) keeps its failures and the earliest time another attempt may be checked.
An attempt claims that turn before its password is checked, with a conditional write
(``UPDATE ... WHERE failures = what was read``): of a burst of simultaneous guesses one
gets the turn and the others are told to wait, however many workers serve them. Within
the allowance the next turn is at once; past it the wait doubles (1 s, 2 s, 4 s...) up
to a ceiling. A good login clears its account's count; an address's count fades with the
window, so one valid account cannot wash an address used to guess others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Row, bindparam, delete, select, update

from blog.extensions import db
from blog.models import LoginThrottle, utcnow
from blog.sqlutil import insert_if_absent

_TABLE = LoginThrottle.__table__
RACE_WAIT = 1  # seconds a loser of a simultaneous attempt is asked to wait


@dataclass(frozen=True)
class Rules:
    per_account: int  # failures allowed per account before waits begin
    per_address: int  # ... per address
    window: timedelta  # failures older than this are forgotten
    longest_wait: timedelta

    @classmethod
    def from_config(cls) -> Rules:
        config = current_app.config
        return cls(
            per_account=int(config["LOGIN_FREE_FAILURES_PER_ACCOUNT"]),
            per_address=int(config["LOGIN_FREE_FAILURES_PER_ADDRESS"]),
            window=timedelta(seconds=int(config["LOGIN_FAILURE_WINDOW"])),
            longest_wait=timedelta(seconds=int(config["LOGIN_LONGEST_WAIT"])),
        )


def wait_after(failures: int, free: int, longest: timedelta) -> timedelta:
    """The wait after ``failures`` failures: none within the allowance, then 1, 2, 4...
    seconds, no longer than ``longest``."""
    if failures < free:
        return timedelta(0)
    return min(timedelta(seconds=2 ** min(failures - free, 30)), longest)


def _keys(ip: str, username: str, rules: Rules) -> list[tuple[str, int]]:
    """(key, failures allowed) for this attempt: the address, and the account named."""
    keys = [(f"ip:{ip}", rules.per_address)] if ip else []
    name = username.strip().lower()
    if name:
        keys.append((f"user:{name[:150]}", rules.per_account))
    return keys


_READ = select(_TABLE.c.failures, _TABLE.c.last_at, _TABLE.c.next_at).where(
    _TABLE.c.key == bindparam("b_key")
)
_CLAIM = (
    update(_TABLE)
    .where(_TABLE.c.key == bindparam("b_key"), _TABLE.c.failures == bindparam("b_was"))
    .values(
        failures=bindparam("b_failures"), last_at=bindparam("b_now"), next_at=bindparam("b_next")
    )
)

# Rows past their window and their wait mean nothing: each new key sweeps them away, so
# names sprayed by a guesser do not pile up (the index on last_at keeps it a range scan).
_PRUNE = delete(_TABLE).where(
    _TABLE.c.last_at < bindparam("b_before"), _TABLE.c.next_at <= bindparam("b_now")
)


def _wait(row: Row | None, now: datetime) -> int:
    """Seconds until this key's next turn: 0 when it is free now."""
    if row is None or row.next_at <= now:
        return 0
    return math.ceil((row.next_at - now).total_seconds())


def _claim(key: str, row: Row | None, free: int, now: datetime, rules: Rules) -> bool:
    """Take this key's turn, counting the attempt as a failure until it succeeds; False
    when another attempt took it first."""
    connection = db.session.connection()
    was = 0 if row is None or row.last_at < now - rules.window else row.failures
    next_at = now + wait_after(was + 1, free, rules.longest_wait)
    if row is None:  # the first attempt on this key; another at once finds the row taken
        connection.execute(_PRUNE, {"b_before": now - rules.window, "b_now": now})
        first = {"key": key, "failures": 1, "last_at": now, "next_at": next_at}
        return insert_if_absent(connection, _TABLE, first)
    values = {"b_key": key, "b_was": row.failures, "b_failures": was + 1}
    claimed = connection.execute(_CLAIM, {**values, "b_now": now, "b_next": next_at})
    return claimed.rowcount == 1


def attempt(ip: str, username: str, rules: Rules | None = None) -> int:
    """A login attempt: 0 when its password may be checked, else the seconds to wait.

    An attempt told to wait counts for nothing. One that may go on is counted (and
    committed) before the check, so that attempts at the same moment, in any process, see
    each other: of those that read the same count, one claims the turn.
    """
    rules = rules or Rules.from_config()
    now = utcnow()
    connection = db.session.connection()
    keys = [(key, free, connection.execute(_READ, {"b_key": key}).first())
            for key, free in _keys(ip, username, rules)]  # fmt: skip
    wait = max((_wait(row, now) for _key, _free, row in keys), default=0)
    if not wait:
        for key, free, row in keys:
            if not _claim(key, row, free, now, rules):
                wait = RACE_WAIT
                break
    db.session.commit()
    return wait


_UNCOUNT = (
    update(_TABLE)
    .where(_TABLE.c.key == bindparam("b_key"), _TABLE.c.failures > 0)
    .values(failures=_TABLE.c.failures - 1)
)


def succeeded(ip: str, username: str) -> None:
    """A good login was no failure: its account's count is forgotten, and the address's
    loses the one this attempt added (what it guessed before stays until the window ends,
    so one valid account cannot wash an address used to guess others)."""
    rules = Rules.from_config()
    connection = db.session.connection()
    for key, _free in _keys(ip, username, rules):
        if key.startswith("user:"):
            connection.execute(delete(_TABLE).where(_TABLE.c.key == key))
        else:
            connection.execute(_UNCOUNT, {"b_key": key})
    db.session.commit()
