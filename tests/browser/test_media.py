"""The media library in a real browser: upload from the editor (the snippet lands at the
cursor and the preview shows the image), the library without JavaScript, and screenshots."""

from __future__ import annotations

import io
import re

import pytest
from conftest import create_user
from PIL import Image
from playwright.sync_api import expect

from tests.browser.helpers import PHONE, log_in, screenshot

pytestmark = pytest.mark.browser


def photo(path, width: int = 1400, height: int = 900, colour: str = "#3a7bd5") -> None:
    image = Image.new("RGB", (width, height), colour)
    for x in range(0, width, 100):  # stripes, so the copies are visibly pictures
        image.paste("#f5b041", (x, 0, x + 40, height))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    path.write_bytes(out.getvalue())


def test_upload_from_the_editor_inserts_the_snippet_and_previews(live_app, new_session, tmp_path):
    create_user(live_app, "ann", "author")
    ann = new_session()
    page = ann.page
    log_in(page, "ann")
    page.goto("/admin/posts/new")
    page.fill("#title", "Holiday")
    body = page.locator("#body")
    body.fill("Before.\n\nAfter.")
    # The cursor after "Before.": the snippet goes there, on a paragraph of its own.
    body.evaluate("el => { el.focus(); el.setSelectionRange(7, 7); }")

    picture = tmp_path / "beach.jpg"
    photo(picture)
    page.set_input_files("#editor-upload-file", str(picture))
    page.get_by_role("button", name="Upload", exact=True).click()

    expect(page.locator("#editor-upload-status")).to_contain_text("Uploaded beach.jpg")
    value = body.input_value()
    assert value.startswith("Before.\n\n![beach](/uploads/"), value
    assert value.endswith(".jpg)\n\nAfter."), value
    assert page.url.endswith("/admin/posts/new")  # no page load: the typing is all there

    # The live preview shows the image, responsive, loaded from our origin.
    image = page.locator("#preview img")
    expect(image).to_have_count(1)
    expect(image).to_have_attribute("srcset", re.compile(r"480w.*960w.*1400w"))
    page.wait_for_function("() => document.querySelector('#preview img').naturalWidth > 0")
    assert ann.errors == [] and ann.dialogs == []
    screenshot(page, "media-editor-uploaded-desktop-light")

    # A refused file says why, in place.
    fake = tmp_path / "fake.jpg"
    fake.write_text("<html><script>alert(1)</script></html>")
    page.set_input_files("#editor-upload-file", str(fake))
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator("#editor-upload-status")).to_contain_text("cannot be uploaded")
    assert body.input_value() == value

    # Publish: readers get the srcset made on write.
    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.locator(".flash-success")).to_be_visible()
    reader = new_session()
    reader.page.goto("/")
    reader.page.locator(".post-title a", has_text="Holiday").click()
    expect(reader.page.locator(".post-body img")).to_have_attribute("sizes", re.compile("1400px"))


def test_library_without_javascript_and_screenshots(live_app, new_session, tmp_path):
    create_user(live_app, "ann", "author")
    create_user(live_app, "ed", "editor")
    for colour, name in (("#3a7bd5", "harbour"), ("#27ae60", "meadow"), ("#8e44ad", "dusk")):
        picture = tmp_path / f"{name}.jpg"
        photo(picture, colour=colour)
    pdf = tmp_path / "menu.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")

    plain = new_session(java_script_enabled=False)
    page = plain.page
    log_in(page, "ann")
    for name in ("harbour.jpg", "meadow.jpg", "menu.pdf"):
        page.goto("/admin/media")
        page.set_input_files("#file", str(tmp_path / name))
        page.get_by_role("button", name="Upload", exact=True).click()
        expect(page.locator("#snippet-new")).to_have_value(re.compile(r"/uploads/"))
    page.get_by_label("Alt text").first.fill("Stripes on a harbour wall")
    page.get_by_role("button", name="Save").first.click()
    expect(page.locator(".flash-success")).to_contain_text("Alt text")

    # The editor without JavaScript: the upload opens the library with the snippet.
    page.goto("/admin/posts/new")
    page.set_input_files("#editor-upload-file", str(tmp_path / "dusk.jpg"))
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator("#snippet-new")).to_have_value(re.compile(r"^!\[dusk\]"))
    expect(page.locator(".media-item")).to_have_count(4)

    for scheme in ("light", "dark"):
        for size, viewport in (("desktop", None), ("phone", PHONE)):
            options = {"color_scheme": scheme}
            if viewport:
                options["viewport"] = viewport
            session = new_session(**options)
            log_in(session.page, "ed")
            session.page.goto("/admin/media")
            # Thumbnails load lazily; a full-page screenshot wants them all.
            session.page.evaluate(
                "document.querySelectorAll('img[loading=lazy]').forEach(i => i.loading = 'eager')"
            )
            session.page.wait_for_function(
                "() => [...document.querySelectorAll('.media-thumb img')]"
                ".every(img => img.complete && img.naturalWidth > 0)"
            )
            screenshot(session.page, f"media-library-{size}-{scheme}")
            session.page.goto("/admin/posts/new")
            session.page.fill("#title", "Screens")
            session.page.locator("#body").fill("Text.")
            screenshot(session.page, f"media-editor-{size}-{scheme}")
            assert session.errors == []
