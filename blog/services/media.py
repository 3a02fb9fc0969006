"""The media library: storing an upload, listing, alt text, deleting, and the srcset facts a
post's render needs.

Files live under the upload folder (``UPLOAD_FOLDER``, default ``instance/uploads``; a
directory several machines share works, as names are random and each file is written under
a temporary name and then renamed into place). The rows say what each file is; the files
hold only what ``blog.mediafiles`` made of the upload.
"""

from __future__ import annotations

import html
import json
import os
import re
import secrets
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

from flask import current_app
from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload

from blog import mediafiles
from blog.extensions import db
from blog.models import Media, Permission, User, utcnow
from blog.services import Forbidden, NotFound, ServiceError

ALT_MAX = 500
#: The most distinct uploads one post's render looks up (a bound on the work per save).
IMAGES_PER_POST_MAX = 200
URL_PREFIX = "/uploads/"
#: A stored path as this module makes them: YYYY/MM/<random>[-<width>w].<ext>.
_STORED_PATH_RE = re.compile(r"\d{4}/\d{2}/[a-f0-9]{16}(?:-\d{1,5}w)?\.[a-z0-9]{2,5}")
_UPLOAD_URL_RE = re.compile(r"/uploads/(\d{4}/\d{2}/[a-f0-9]{16}\.[a-z0-9]{2,5})")


def upload_folder() -> Path:
    configured = current_app.config.get("UPLOAD_FOLDER") or ""
    return Path(configured) if configured else Path(current_app.instance_path) / "uploads"


def max_bytes() -> int:
    return int(current_app.config["UPLOAD_MAX_BYTES"])


def allowed_types() -> list[str]:
    """UPLOAD_ALLOWED_TYPES as a list (from the environment it may be one string)."""
    value = current_app.config.get("UPLOAD_ALLOWED_TYPES") or []
    if isinstance(value, str):
        value = json.loads(value) if value.lstrip().startswith("[") else value.split(",")
    return [item.strip().lower() for item in value if item.strip()]


def image_widths() -> list[int]:
    value = current_app.config.get("UPLOAD_IMAGE_WIDTHS") or []
    if isinstance(value, str):
        value = json.loads(value) if value.lstrip().startswith("[") else value.split(",")
    return sorted({int(item) for item in value})


def too_large_message() -> str:
    return (
        f"The file is larger than the upload limit ({max_bytes() / 2**20:g} MiB, "
        "UPLOAD_MAX_BYTES). Nothing was stored: make it smaller (scale an image down, "
        "compress a PDF) and upload it again."
    )


# --- paths and URLs --------------------------------------------------------------------------


def url_of(stored_path: str) -> str:
    return URL_PREFIX + stored_path


_WEB_URL_RE = re.compile(r"https?://[^\s\"'<>]+", re.ASCII | re.IGNORECASE)


def src_of(media: Media) -> str:
    """Where readers fetch it: our copy, else the URL an import recorded when it is a web
    address (an export could name ``javascript:...``; the library never links that)."""
    if media.stored_path:
        return url_of(media.stored_path)
    url = media.original_url.strip()
    return url if _WEB_URL_RE.fullmatch(url) else ""


def is_image(media: Media) -> bool:
    return media.content_type.startswith("image/")


def snippet(media: Media) -> str:
    """The Markdown that shows the file in a post (an image) or links to it."""
    if is_image(media):
        alt = media.alt_text or media.title or ""
        return f"![{_escape_brackets(alt)}]({src_of(media)})"
    return f"[{_escape_brackets(media.title or media.filename or 'file')}]({src_of(media)})"


def html_snippet(media: Media) -> str:
    """The same as HTML, for a post imported from WordPress (its body is HTML)."""
    src = html.escape(src_of(media))
    if is_image(media):
        return f'<img src="{src}" alt="{html.escape(media.alt_text or media.title or "")}">'
    return f'<a href="{src}">{html.escape(media.title or media.filename or "file")}</a>'


def _escape_brackets(text: str) -> str:
    return " ".join(text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]").split())


def thumbnail_of(media: Media) -> str:
    """The narrowest copy of an image, for the library's grid."""
    if media.variants:
        return url_of(media.variants[0]["path"])
    return src_of(media)


def is_stored_path(value: str) -> bool:
    """Whether ``value`` (relative, with ``/``) is a name this service gives a stored file."""
    return _STORED_PATH_RE.fullmatch(value) is not None


def resolve(stored_path: str) -> Path | None:
    """The file of a stored path under the upload folder, or None for anything that is not
    one of ours (no ``..``, no absolute paths, no dot files, nothing outside the folder)."""
    if not is_stored_path(stored_path):
        return None
    folder = upload_folder().resolve()
    path = (folder / PurePosixPath(stored_path)).resolve()
    if folder not in path.parents:
        return None
    return path


# --- storing -------------------------------------------------------------------------------


def _write(path: Path, data: bytes) -> None:
    """Write under a temporary name beside it, then rename: readers (and other machines on a
    shared folder) never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    with open(temporary, "xb") as handle:
        handle.write(data)
    os.replace(temporary, path)


def _remove(paths: Iterable[Path]) -> None:
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def store_upload(uploader: User, data: bytes, filename: str) -> Media:
    """Check, clean and store one uploaded file; the row is committed. ServiceError (400, or
    413 when too large) says what to change."""
    if not uploader.can(Permission.WRITE):
        raise Forbidden("Only authors, editors and administrators upload files.")
    if len(data) > max_bytes():
        raise ServiceError(too_large_message(), field="file", status=413)
    try:
        processed = mediafiles.process(
            data,
            allowed_types(),
            image_widths(),
            int(current_app.config["UPLOAD_MAX_PIXELS"]),
        )
    except mediafiles.RefusedFile as refused:
        raise ServiceError(str(refused), field="file") from None
    now = utcnow()
    stem = f"{now:%Y}/{now:%m}/{secrets.token_hex(8)}"
    extension = processed.type.extension
    stored = f"{stem}.{extension}"
    written: list[Path] = []
    variants: list[dict[str, Any]] = []
    try:
        for variant in processed.variants:
            path = f"{stem}-{variant.width}w.{extension}"
            target = resolve(path)
            assert target is not None
            _write(target, variant.data)
            written.append(target)
            variants.append({"width": variant.width, "height": variant.height, "path": path})
        target = resolve(stored)
        assert target is not None
        _write(target, processed.data)
        written.append(target)
        name = _display_name(filename, extension)
        media = Media(
            title=name.rsplit(".", 1)[0],
            filename=name,
            content_type=processed.type.mime,
            stored_path=stored,
            uploader_id=uploader.id,
            created_at=now,
            size_bytes=len(processed.data),
            width=processed.width,
            height=processed.height,
            variants=variants,
        )
        db.session.add(media)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        _remove(written)
        raise
    return media


def _display_name(filename: str, extension: str) -> str:
    """The uploader's name for the file, shown in the library (never used as a path), with
    the extension of what it really is."""
    base = os.path.basename(filename.replace("\\", "/")).strip()
    base = "".join(ch for ch in base if ch.isprintable())[:200]
    stem = base.rsplit(".", 1)[0] if "." in base else base
    return f"{stem or 'upload'}.{extension}"


# --- the library -----------------------------------------------------------------------------


def library_query() -> Select[tuple[Media]]:
    """Every file, uploads and imported attachments alike, newest first."""
    return (
        select(Media)
        .options(joinedload(Media.uploader))
        .order_by(Media.created_at.desc(), Media.id.desc())
    )


def get(media_id: int) -> Media:
    media = db.session.get(Media, media_id)
    if media is None:
        raise NotFound("That file is not in the media library (deleted already?).")
    return media


def may_change(user: User, media: Media) -> bool:
    """Authors change their own uploads; editors and administrators anyone's."""
    if user.can(Permission.EDIT_OTHERS):
        return True
    return user.can(Permission.WRITE) and media.uploader_id == user.id


def set_alt_text(media: Media, user: User, alt: str) -> None:
    if not may_change(user, media):
        raise Forbidden("You may change only the files you uploaded.")
    alt = " ".join(alt.split())
    if len(alt) > ALT_MAX:
        raise ServiceError(
            f"The alt text is {len(alt)} characters long; at most {ALT_MAX} are kept. "
            "Describe the image more briefly.",
            field="alt_text",
        )
    media.alt_text = alt
    db.session.commit()


def delete(media: Media, user: User) -> None:
    """The row and every file of it. Posts that show it keep their text; the image is gone
    from them (the library's delete button says so)."""
    if not may_change(user, media):
        raise Forbidden("You may delete only the files you uploaded.")
    paths = [media.stored_path, *(v["path"] for v in media.variants or [])]
    files = [p for p in (resolve(path) for path in paths if path) if p is not None]
    db.session.delete(media)
    db.session.commit()
    _remove(files)


# --- for the renderer ------------------------------------------------------------------------


def images_in(body: str) -> dict[str, dict[str, Any]]:
    """For each uploaded image a Markdown body shows (by its ``/uploads/...`` address): its
    width, height and srcset, as the pure renderer takes them. One query, bounded."""
    paths = list(dict.fromkeys(_UPLOAD_URL_RE.findall(body)))[:IMAGES_PER_POST_MAX]
    if not paths:
        return {}
    found = db.session.execute(
        select(Media.stored_path, Media.width, Media.height, Media.variants).where(
            Media.stored_path.in_(paths), Media.content_type.like("image/%")
        )
    ).all()
    images: dict[str, dict[str, Any]] = {}
    for path, width, height, variants in found:
        if not width or not height:
            continue
        candidates = [f"{url_of(v['path'])} {v['width']}w" for v in variants or []]
        candidates.append(f"{url_of(path)} {width}w")
        images[url_of(path)] = {"width": width, "height": height, "srcset": ", ".join(candidates)}
    return images
