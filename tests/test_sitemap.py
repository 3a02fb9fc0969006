"""/sitemap.xml and /robots.txt: what they list, their validators, and the split past 50,000."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from conftest import create_post, create_user

from blog.feeds import views as feed_views

S = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
HOST = "http://127.0.0.1:5000"  # SITE_URL in config.Default


def _locs(data: bytes, tag: str = "url") -> list[str]:
    root = ET.fromstring(data)  # noqa: S314 - our own output
    return [node.findtext(f"{S}loc") for node in root.findall(f"{S}{tag}")]


def test_the_sitemap_lists_what_readers_can_see_with_its_last_change(app, client):
    create_user(app, "ann", role="author")
    create_user(app, "ed", role="editor")
    _, out = create_post(app, "ed", title="Out now")
    _, page = create_post(app, "ed", title="About", type=feed_views.PostType.PAGE)
    _, draft = create_post(app, "ann", title="Not yet", action="draft")
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/xml; charset=utf-8"
    assert "Set-Cookie" not in response.headers
    locs = _locs(response.data)
    assert sorted(locs) == sorted([HOST + out, HOST + page])
    assert HOST + draft not in locs
    root = ET.fromstring(response.data)  # noqa: S314
    assert all(node.findtext(f"{S}lastmod") for node in root.findall(f"{S}url"))
    again = client.get("/sitemap.xml", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_past_the_limit_the_sitemap_is_an_index_of_parts(app, client, monkeypatch):
    create_user(app, "ed", role="editor")
    paths = [create_post(app, "ed", title=f"Post {n}")[1] for n in range(5)]
    monkeypatch.setattr(feed_views, "SITEMAP_URLS", 2)
    index = client.get("/sitemap.xml")
    parts = _locs(index.data, "sitemap")
    assert parts == [f"{HOST}/sitemap-{n}.xml" for n in (1, 2, 3)]
    listed = []
    for part in parts:
        response = client.get(part.removeprefix(HOST))
        assert response.status_code == 200
        listed += _locs(response.data)
    assert sorted(listed) == sorted(HOST + p for p in paths)
    assert client.get("/sitemap-4.xml").status_code == 404


def test_robots_txt_points_at_the_sitemap(client):
    response = client.get("/robots.txt")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert f"Sitemap: {HOST}/sitemap.xml" in text
    assert "Disallow: /admin/" in text
    assert (
        client.get("/robots.txt", headers={"If-None-Match": response.headers["ETag"]}).status_code
        == 304
    )
