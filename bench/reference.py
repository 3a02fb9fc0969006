"""The reference the benchmarks divide by: a minimal Flask app under the same gunicorn.

It answers ``GET /page`` with the bytes of the page being measured (read from
``REFERENCE_BODY``) and ``POST /form`` by inserting one row from the form into its own
database (``REFERENCE_DATABASE``: a SQLite file with the blog's pragmas, its durability
``REFERENCE_SYNCHRONOUS`` as the blog's ``SQLITE_SYNCHRONOUS``, or PostgreSQL) and
answering 303, as a form handler does. One connection per process, kept open: the
strongest simple reference, so the ratios flatter nothing.
"""

from __future__ import annotations

import os
import sqlite3

from flask import Flask, Response, redirect, request

app = Flask(__name__)
BODY = open(os.environ["REFERENCE_BODY"], "rb").read()  # noqa: SIM115
DATABASE = os.environ.get("REFERENCE_DATABASE", "")
# The blog's own durability: a commit on the disk (FULL) costs the same to both.
SYNCHRONOUS = {"FULL": "FULL", "NORMAL": "NORMAL", "EXTRA": "EXTRA", "OFF": "OFF"}[
    os.environ.get("REFERENCE_SYNCHRONOUS", "FULL").upper()
]
_connection = None


def connection():
    global _connection
    if _connection is None:
        if DATABASE.startswith("postgresql"):
            import psycopg

            _connection = psycopg.connect(DATABASE.replace("postgresql+psycopg", "postgresql"))
        else:
            _connection = sqlite3.connect(DATABASE)
            _connection.execute("PRAGMA journal_mode=WAL")
            _connection.execute(f"PRAGMA synchronous={SYNCHRONOUS}")
            _connection.execute("PRAGMA busy_timeout=5000")
    return _connection


@app.get("/page")
def page() -> Response:
    return Response(BODY, content_type="text/html; charset=utf-8")


@app.post("/form")
def form():
    db = connection()
    marker = "?" if isinstance(db, sqlite3.Connection) else "%s"
    db.execute(
        f"INSERT INTO rows (author, email, content) VALUES ({marker}, {marker}, {marker})",  # noqa: S608
        (request.form["author"], request.form["email"], request.form["comment"]),
    )
    db.commit()
    return redirect("/page", 303)
