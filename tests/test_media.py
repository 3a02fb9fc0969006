"""The media library: uploads judged by content, cleaned images and their copies, serving
that never runs an upload in the blog's origin, srcset in rendered posts, and who may
change what."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from conftest import create_post, create_user, fresh_app, login
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import select

from blog import mediafiles
from blog.extensions import db
from blog.models import Media, Post
from blog.sanitize import render_markdown

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def jpeg_with_gps(width: int = 2000, height: int = 1200, orientation: int = 1) -> bytes:
    image = Image.new("RGB", (width, height), (180, 40, 40))
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[0x010F] = "SpyCam Inc."  # camera maker
    exif[GPS_IFD] = {1: "N", 2: (52.0, 31.0, 12.5), 3: "E", 4: (13.0, 24.0, 5.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), quality=90)
    return out.getvalue()


def png(width: int = 600, height: int = 400) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (width, height), (10, 120, 200, 255)).save(out, "PNG")
    return out.getvalue()


def upload(client: FlaskClient, data: bytes, name: str, json: bool = False, **headers: str):
    if json:
        headers["Accept"] = "application/json"
    return client.post(
        "/admin/media/upload",
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
        headers=headers,
    )


def rows(app: Flask) -> list[Media]:
    with app.app_context():
        found = list(db.session.scalars(select(Media).order_by(Media.id)))
        db.session.expunge_all()
        return found


def folder(app: Flask) -> Path:
    return Path(app.instance_path) / "uploads"


def stored_files(app: Flask) -> list[Path]:
    return sorted(p for p in folder(app).rglob("*") if p.is_file())


@pytest.fixture
def author_client(app: Flask, client: FlaskClient) -> FlaskClient:
    create_user(app, "ann", "author")
    assert login(client, "ann").status_code == 302
    return client


# --- what a file is ----------------------------------------------------------------------


def test_html_named_jpg_is_refused(app: Flask, author_client: FlaskClient) -> None:
    page = b"<!doctype html><html><script>alert(document.cookie)</script></html>"
    response = upload(author_client, page, "holiday.jpg")
    assert response.status_code == 400
    assert "cannot be uploaded" in response.get_data(as_text=True)
    assert rows(app) == []
    assert stored_files(app) == []


@pytest.mark.parametrize(
    "content",
    [
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
        b"GIF89a<script>alert(1)</script>",  # a GIF header and no image
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,  # a PNG signature and nothing readable
        b"",
    ],
    ids=["svg-script", "svg-onload", "gif-polyglot", "png-broken", "empty"],
)
def test_what_is_not_a_readable_allowed_type_is_refused(
    app: Flask, author_client: FlaskClient, content: bytes
) -> None:
    response = upload(author_client, content, "image.png", json=True)
    assert response.status_code == 400
    assert response.get_json()["error"]["message"]
    assert rows(app) == [] and stored_files(app) == []


def test_png_named_txt_is_stored_as_png(app: Flask, author_client: FlaskClient) -> None:
    response = upload(author_client, png(), "notes.txt", json=True)
    assert response.status_code == 201, response.get_data(as_text=True)
    item = response.get_json()
    assert item["content_type"] == "image/png"
    assert item["url"].endswith(".png") and "notes" not in item["url"]
    assert item["filename"] == "notes.png"
    assert item["html_snippet"] == f'<img src="{item["url"]}" alt="notes">'
    (media,) = rows(app)
    assert media.content_type == "image/png"
    assert media.stored_path.endswith(".png")
    assert (media.width, media.height) == (600, 400)


def test_browser_content_type_is_not_trusted(app: Flask, author_client: FlaskClient) -> None:
    response = author_client.post(
        "/admin/media/upload",
        data={"file": (io.BytesIO(b"<html>hi</html>"), "a.png", "image/png")},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400


def test_pdf_by_signature(app: Flask, author_client: FlaskClient) -> None:
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    response = upload(author_client, pdf, "paper.bin", json=True)
    assert response.status_code == 201
    assert response.get_json()["url"].endswith(".pdf")
    assert response.get_json()["snippet"].startswith("[paper](/uploads/")


def test_a_type_not_in_the_allowed_list_is_refused(database_uri: str, tmp_path: Path) -> None:
    with fresh_app(database_uri, tmp_path, UPLOAD_ALLOWED_TYPES="image/jpeg,image/png") as app:
        create_user(app, "ann", "author")
        client = app.test_client()
        login(client, "ann")
        response = upload(client, b"%PDF-1.4\n%%EOF\n", "a.pdf", json=True)
        assert response.status_code == 400
        assert "application/pdf" in response.get_json()["error"]["message"]
        assert upload(client, png(), "a.png", json=True).status_code == 201


def test_decompression_bomb_is_refused_before_decoding() -> None:
    # 20000 x 20000 pixels in a few kilobytes of PNG.
    out = io.BytesIO()
    Image.new("1", (20000, 20000)).save(out, "PNG")
    with pytest.raises(mediafiles.RefusedFile, match="million pixels"):
        mediafiles.process(out.getvalue(), ["image/png"], [480], max_pixels=50_000_000)


# --- size --------------------------------------------------------------------------------


def test_too_large_is_refused_with_a_clear_message(database_uri: str, tmp_path: Path) -> None:
    with fresh_app(database_uri, tmp_path, UPLOAD_MAX_BYTES=100_000) as app:
        create_user(app, "ann", "author")
        client = app.test_client()
        login(client, "ann")
        big = b"%PDF-1.4\n" + b"0" * 300_000
        page = upload(client, big, "big.pdf")
        assert page.status_code == 413
        text = page.get_data(as_text=True)
        assert "larger than the upload limit" in text and "UPLOAD_MAX_BYTES" in text
        assert "Media library" in text  # the library page, not a bare error page
        as_json = upload(client, big, "big.pdf", json=True)
        assert as_json.status_code == 413
        assert "upload limit" in as_json.get_json()["error"]["message"]
        # Just over the limit, inside the multipart envelope's allowance: still refused.
        just_over = upload(client, b"%PDF-1.4\n" + b"0" * 100_000, "over.pdf", json=True)
        assert just_over.status_code == 413
        assert rows(app) == [] and stored_files(app) == []


def test_the_bigger_limit_is_for_the_upload_route_only(app: Flask, admin_client) -> None:
    """Files up to UPLOAD_MAX_BYTES (10 MiB) pass; other forms keep the 1 MiB limit."""
    assert app.config["UPLOAD_MAX_BYTES"] > app.config["MAX_CONTENT_LENGTH"]
    two_mib = b"%PDF-1.4\n" + b"0" * (2 * 1024 * 1024)
    assert upload(admin_client, two_mib, "two.pdf", json=True).status_code == 201
    response = admin_client.post("/admin/preview", data={"body": "x" * (2 * 1024 * 1024)})
    assert response.status_code == 413


# --- images ------------------------------------------------------------------------------


def _exif_of(data: bytes) -> dict:
    image = Image.open(io.BytesIO(data))
    return {"exif": dict(image.getexif()), "info": image.info.get("exif")}


def test_exif_gps_is_gone_from_the_original_and_every_copy(
    app: Flask, author_client: FlaskClient
) -> None:
    original = jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)  # the test's premise
    response = upload(author_client, original, "IMG_0001.JPG", json=True)
    assert response.status_code == 201
    files = stored_files(app)
    assert len(files) == 4  # the original and the 480, 960 and 1600 copies
    for path in files:
        data = path.read_bytes()
        assert _exif_of(data) == {"exif": {}, "info": None}, path.name
        assert b"SpyCam" not in data and b"Exif" not in data, path.name


def test_exif_orientation_is_applied_before_it_is_dropped(
    app: Flask, author_client: FlaskClient
) -> None:
    # Orientation 6: the camera was turned; the pixels are stored sideways.
    upload(author_client, jpeg_with_gps(2000, 1200, orientation=6), "turned.jpg")
    (media,) = rows(app)
    assert (media.width, media.height) == (1200, 2000)
    stored = Image.open(folder(app) / media.stored_path)
    assert stored.size == (1200, 2000)


def test_variants_have_the_configured_widths_and_never_upscale(
    app: Flask, author_client: FlaskClient
) -> None:
    upload(author_client, jpeg_with_gps(2000, 1000), "wide.jpg")
    upload(author_client, png(600, 400), "small.png")
    wide, small = rows(app)
    assert [(v["width"], v["height"]) for v in wide.variants] == [
        (480, 240),
        (960, 480),
        (1600, 800),
    ]
    for variant in wide.variants:
        assert Image.open(folder(app) / variant["path"]).size == (
            variant["width"],
            variant["height"],
        )
    assert [v["width"] for v in small.variants] == [480]  # not 960 or 1600: never enlarged
    assert wide.size_bytes == (folder(app) / wide.stored_path).stat().st_size


def test_animated_gif_is_kept_as_it_is(app: Flask, author_client: FlaskClient) -> None:
    frames = [Image.new("RGB", (700, 300), color) for color in ("red", "green", "blue")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    response = upload(author_client, out.getvalue(), "anim.gif", json=True)
    assert response.status_code == 201
    (media,) = rows(app)
    assert (folder(app) / media.stored_path).read_bytes() == out.getvalue()
    assert media.variants == []


# --- serving -----------------------------------------------------------------------------


def test_uploads_are_served_with_safe_headers(app: Flask, author_client: FlaskClient) -> None:
    url = upload(author_client, png(), "a.png", json=True).get_json()["url"]
    anonymous = app.test_client()
    response = anonymous.get(url)
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "max-age=31536000" in response.headers["Cache-Control"]
    assert "public" in response.headers["Cache-Control"]
    assert "attachment" not in response.headers.get("Content-Disposition", "")
    assert response.data.startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("name", "content"),
    [
        (
            "2026/12/0123456789abcdef.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>',
        ),
        ("2026/12/0123456789abcdef.html", b"<script>alert(1)</script>"),
        ("2026/12/0123456789abcdef.mp3", b"ID3" + b"\x00" * 20),
        ("2026/12/0123456789abcdef.js", b"alert(1)"),
    ],
)
def test_anything_but_images_and_pdf_is_an_attachment(
    app: Flask, client: FlaskClient, name: str, content: bytes
) -> None:
    """Even a file put in the folder by hand (or a future allowed type) never renders in the
    blog's origin: a download, sandboxed, not sniffed."""
    path = folder(app) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    response = client.get(f"/uploads/{name}")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.mimetype == "application/octet-stream"


@pytest.mark.parametrize(
    "path",
    [
        "../secret_key",
        "..%2fsecret_key",
        "2026/12/../../secret_key",
        "%2e%2e/%2e%2e/blog.db",
        "/etc/passwd",
        "2026/12/.0123456789abcdef.png.abcd.part",
        "2026/12/0123456789abcdef.png/../../../secret_key",
        "2026\\12\\0123456789abcdef.png",
    ],
)
def test_no_path_traversal(app: Flask, client: FlaskClient, path: str) -> None:
    (Path(app.instance_path) / "secret_key").write_text("s3cret-value")
    response = client.get(f"/uploads/{path}", follow_redirects=True)
    assert response.status_code == 404
    assert b"s3cret" not in response.data


# --- srcset in posts ---------------------------------------------------------------------


def test_a_post_showing_an_upload_has_srcset_rendered_on_write(
    app: Flask, author_client: FlaskClient
) -> None:
    item = upload(author_client, jpeg_with_gps(2000, 1000), "wide.jpg", json=True).get_json()
    body = f"Look:\n\n{item['snippet']}\n\nand ![elsewhere](https://example.org/x.png)"
    post_id, path = create_post(app, "ann", title="Pictures", body=body)
    with app.app_context():
        stored = db.session.get(Post, post_id).body_html
    img = re.search(r'<img [^>]*src="' + re.escape(item["url"]) + '"[^>]*>', stored).group(0)
    assert 'width="2000"' in img and 'height="1000"' in img
    assert 'sizes="(max-width: 2000px) 100vw, 2000px"' in img
    srcset = re.search(r'srcset="([^"]+)"', img).group(1)
    assert [c.rsplit(" ", 1)[1] for c in srcset.split(", ")] == ["480w", "960w", "1600w", "2000w"]
    other = re.search(r"<img [^>]*example\.org[^>]*>", stored).group(0)
    assert "srcset" not in other
    page = app.test_client().get(path).get_data(as_text=True)
    assert srcset in page


def test_the_whitelist_allows_srcset_and_sizes_on_img_and_nothing_more() -> None:
    html = render_markdown(
        '<img src="/a.png" srcset="javascript:alert(1) 1x" sizes="100vw">'
        '<img src="/b.png" srcset="/b-480w.png 480w, /b.png 900w" onerror="x" loading="lazy">'
        '<p srcset="/c.png 1x" sizes="10px">p</p>'
        '<img src="/d.png" srcset="/d.png 480w, data:text/html,x 2x" width="1e3">'
    )
    assert "javascript" not in html and "onerror" not in html and "loading" not in html
    assert 'srcset="/b-480w.png 480w, /b.png 900w"' in html
    assert "<p>p</p>" in html  # srcset/sizes only on img
    assert "data:" not in html and "1e3" not in html


# --- the library -------------------------------------------------------------------------


def test_library_lists_uploads_and_imported_attachments(
    app: Flask, author_client: FlaskClient
) -> None:
    upload(author_client, jpeg_with_gps(1000, 500), "beach.jpg")
    with app.app_context():
        db.session.add(
            Media(
                title="old-logo",
                original_url="https://old.example/wp-content/logo.png",
                content_type="image/png",
            )
        )
        db.session.commit()
    page = author_client.get("/admin/media").get_data(as_text=True)
    assert "beach.jpg" in page and "1000×500" in page and "ann" in page
    assert "https://old.example/wp-content/logo.png" in page
    assert "![old-logo](https://old.example/wp-content/logo.png)" in page
    assert re.search(r'value="!\[beach\]\(/uploads/\d{4}/\d\d/[0-9a-f]{16}\.jpg\)"', page)


def test_upload_without_javascript_lands_on_the_snippet(
    app: Flask, author_client: FlaskClient
) -> None:
    response = upload(author_client, png(), "shot.png")
    assert response.status_code == 303
    page = author_client.get(response.location).get_data(as_text=True)
    assert 'id="snippet-new"' in page and "![shot](/uploads/" in page


def test_library_is_paged(database_uri: str, tmp_path: Path) -> None:
    with fresh_app(database_uri, tmp_path, MEDIA_PER_PAGE=2) as app:
        create_user(app, "ann", "author")
        client = app.test_client()
        login(client, "ann")
        for number in range(5):
            upload(client, png(10 + number, 10), f"n{number}.png", json=True)
        first = client.get("/admin/media").get_data(as_text=True)
        assert "n4.png" in first and "n3.png" in first and "n2.png" not in first
        assert "Page 1 of 3" in first
        last = client.get("/admin/media?page=3").get_data(as_text=True)
        assert "n0.png" in last and "n1.png" not in last


def test_alt_text_is_edited_and_used_in_the_snippet(app: Flask, author_client: FlaskClient) -> None:
    upload(author_client, png(), "x.png")
    (media,) = rows(app)
    response = author_client.post(f"/admin/media/{media.id}/alt", data={"alt_text": "A blue box"})
    assert response.status_code == 303
    page = author_client.get("/admin/media").get_data(as_text=True)
    assert "![A blue box](/uploads/" in page
    too_long = author_client.post(f"/admin/media/{media.id}/alt", data={"alt_text": "a" * 501})
    assert too_long.status_code == 303
    assert "too long" in author_client.get("/admin/media").get_data(as_text=True)
    assert rows(app)[0].alt_text == "A blue box"


def test_delete_permissions_and_files_removed(app: Flask, client: FlaskClient) -> None:
    for name, role in (("ann", "author"), ("otto", "author"), ("ed", "editor")):
        create_user(app, name, role)
    login(client, "ann")
    upload(client, jpeg_with_gps(1000, 600), "anns.jpg")
    (media,) = rows(app)
    files = stored_files(app)
    assert len(files) == 3
    client.post("/logout")

    login(client, "otto")
    assert client.post(f"/admin/media/{media.id}/delete").status_code == 403
    assert client.post(f"/admin/media/{media.id}/alt", data={"alt_text": "x"}).status_code == 403
    assert "Delete file" not in client.get("/admin/media").get_data(as_text=True)
    assert len(rows(app)) == 1 and stored_files(app) == files
    client.post("/logout")

    login(client, "ed")
    assert client.post(f"/admin/media/{media.id}/delete").status_code == 303
    assert rows(app) == [] and stored_files(app) == []
    assert app.test_client().get("/uploads/" + media.stored_path).status_code == 404


def test_delete_is_post_only(app: Flask, author_client: FlaskClient) -> None:
    upload(author_client, png(), "x.png")
    (media,) = rows(app)
    assert author_client.get(f"/admin/media/{media.id}/delete").status_code == 405
    assert len(rows(app)) == 1


def test_upload_needs_csrf_token(csrf_app: Flask) -> None:
    create_user(csrf_app, "ann", "author")
    client = csrf_app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
    client.post(
        "/login", data={"username": "ann", "password": "correct horse battery", "csrf_token": token}
    )
    refused = upload(client, png(), "x.png", json=True)
    assert refused.status_code == 400
    assert "CSRF" in refused.get_json()["error"]["message"]
    library = client.get("/admin/media").get_data(as_text=True)
    token = library.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
    accepted = client.post(
        "/admin/media/upload",
        data={"file": (io.BytesIO(png()), "x.png"), "csrf_token": token},
        headers={"Accept": "application/json"},
    )
    assert accepted.status_code == 201


def test_the_editor_has_an_upload_form(app: Flask, author_client: FlaskClient) -> None:
    page = author_client.get("/admin/posts/new").get_data(as_text=True)
    assert 'id="editor-upload"' in page and 'form="editor-upload"' in page
    assert 'action="/admin/media/upload"' in page


def test_upload_folder_setting(database_uri: str, tmp_path: Path) -> None:
    shared = tmp_path / "shared-media"
    with fresh_app(database_uri, tmp_path, UPLOAD_FOLDER=str(shared)) as app:
        create_user(app, "ann", "author")
        client = app.test_client()
        login(client, "ann")
        url = upload(client, png(), "x.png", json=True).get_json()["url"]
        assert (shared / url.removeprefix("/uploads/")).is_file()
        assert client.get(url).status_code == 200


def test_an_imported_javascript_url_is_never_linked(app: Flask, author_client) -> None:
    with app.app_context():
        db.session.add(
            Media(title="evil", original_url="javascript:alert(1)", content_type="image/png")
        )
        db.session.commit()
    page = author_client.get("/admin/media").get_data(as_text=True)
    assert 'href="javascript' not in page and 'src="javascript' not in page
    assert "![evil](javascript" not in page


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
@pytest.mark.parametrize("mode", ["RGB", "P", "RGBA", "L"])
def test_every_format_and_mode_comes_out_clean_and_resized(fmt: str, mode: str) -> None:
    if fmt == "JPEG" and mode in ("P", "RGBA"):
        pytest.skip("JPEG has no palette or alpha")
    image = Image.new("RGB", (1000, 700), (30, 160, 90)).convert(mode)
    exif = Image.Exif()
    exif[GPS_IFD] = {1: "N", 2: (1.0, 2.0, 3.0)}
    exif[0x010F] = "SpyCam Inc."
    out = io.BytesIO()
    image.save(out, fmt, exif=exif.tobytes())
    processed = mediafiles.process(out.getvalue(), mediafiles.FILE_TYPES, [480, 960], 10**8)
    assert processed.type.pillow_format == fmt
    assert [v.width for v in processed.variants] == [480, 960]
    for data in [processed.data, *(v.data for v in processed.variants)]:
        assert b"SpyCam" not in data
        assert not Image.open(io.BytesIO(data)).getexif()
