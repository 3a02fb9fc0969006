"""/healthz and /readyz: what a load balancer or systemd asks, and what it is told."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from conftest import make_app
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from blog.extensions import db
from blog.models import OutboxMessage, OutboxStatus, utcnow


def test_healthz_answers_without_asking_anything(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "ok\n"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers


def test_readyz_says_ready_when_everything_is(client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {
        "ready": True,
        "database": "ok",
        "migrations": "at head",
        "outbox": "ok",
    }
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers


def test_readyz_is_never_a_stored_page(client: FlaskClient, app: Flask) -> None:
    assert client.get("/readyz").status_code == 200
    with app.app_context():
        db.session.add(
            OutboxMessage(subject="old", next_at=utcnow() - timedelta(hours=1), attempts=0)
        )
        db.session.commit()
    assert client.get("/readyz").status_code == 503  # read again, not served from a store


def test_a_message_no_worker_has_tried_makes_the_process_unready(
    app: Flask, client: FlaskClient
) -> None:
    with app.app_context():
        long_ago = utcnow() - timedelta(minutes=20)
        db.session.add(OutboxMessage(subject="waiting", next_at=long_ago, attempts=0))
        # Retried and failing (the mail server down) is not the worker's fault: not counted.
        db.session.add(OutboxMessage(subject="failing", next_at=long_ago, attempts=3))
        db.session.add(OutboxMessage(subject="dead", status=OutboxStatus.DEAD))
        db.session.commit()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "10"
    assert response.get_json()["outbox"] == "1 message(s) waiting for a worker"


def test_a_schema_behind_the_code_makes_the_process_unready(
    app: Flask, client: FlaskClient
) -> None:
    with app.app_context():
        head = db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()
        db.session.execute(text("UPDATE alembic_version SET version_num = 'older'"))
        db.session.commit()
    try:
        body = client.get("/readyz")
        assert body.status_code == 503
        assert body.get_json()["migrations"] == f"database at older, code at {head}"
    finally:
        with app.app_context():
            db.session.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
            db.session.commit()


def test_an_unreachable_database_makes_the_process_unready(app: Flask, tmp_path: Path) -> None:
    nowhere = "sqlite:///" + str(tmp_path / "no" / "such" / "folder" / "blog.db")
    lost = make_app(nowhere, tmp_path)
    response = lost.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"ready": False, "database": "unreachable: OperationalError"}
    assert lost.test_client().get("/healthz").status_code == 200  # the process still answers
