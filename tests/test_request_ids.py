"""Request ids: in every answer's X-Request-Id (stored pages too), on error pages, and on
the log lines written while the request ran."""

from __future__ import annotations

import logging
import re

import pytest
from conftest import create_post, create_user
from flask import Flask
from flask.testing import FlaskClient

from blog.requestlog import FORMAT, RequestIdFilter

ID = re.compile(r"[0-9a-f]{16}")


def test_every_answer_has_an_id_and_each_request_its_own(app: Flask, client: FlaskClient) -> None:
    create_user(app, "admin", "admin")
    _, path = create_post(app, "admin", title="Ids")
    rendered = client.get(path)
    stored = client.get(path)  # served by the page cache, before Flask
    revalidated = client.get(path, headers={"If-None-Match": stored.headers["ETag"]})
    assert revalidated.status_code == 304
    ids = [r.headers["X-Request-Id"] for r in (rendered, stored, revalidated)]
    assert all(ID.fullmatch(i) for i in ids) and len(set(ids)) == 3
    assert stored.headers.getlist("X-Request-Id") == [ids[1]]  # the render's id is not kept
    assert ID.fullmatch(client.get("/healthz").headers["X-Request-Id"])


def test_a_proxys_id_is_kept_when_it_is_plain(client: FlaskClient) -> None:
    kept = client.get("/healthz", headers={"X-Request-Id": "lb-1234.abc"})
    assert kept.headers["X-Request-Id"] == "lb-1234.abc"
    for bad in ("has space", "x" * 65, "semi;colon", "<script>"):
        replaced = client.get("/healthz", headers={"X-Request-Id": bad})
        assert ID.fullmatch(replaced.headers["X-Request-Id"]), bad


def test_an_error_page_names_its_reference(client: FlaskClient) -> None:
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    reference = response.headers["X-Request-Id"]
    assert f"Reference: <code>{reference}</code>" in response.get_data(as_text=True)


def test_log_lines_written_during_a_request_carry_its_id(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    def noisy():
        logging.getLogger("blog.test").warning("something to look into")
        return "done"

    app.add_url_rule("/_test/noisy", "noisy", noisy)
    caplog.set_level(logging.WARNING, logger="blog.test")
    caplog.handler.addFilter(RequestIdFilter())
    response = client.get("/_test/noisy", headers={"X-Request-Id": "trace-42"})
    (record,) = [r for r in caplog.records if r.name == "blog.test"]
    assert record.request_id == "trace-42" == response.headers["X-Request-Id"]
    line = logging.Formatter(FORMAT).format(record)
    assert "WARNING [trace-42] blog.test: something to look into" in line
