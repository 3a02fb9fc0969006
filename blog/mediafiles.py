"""What an uploaded file is, judged by its bytes, and the web-ready copies of an image.

Pure: bytes in, bytes and facts out; nothing here knows Flask, the database or the disk.
A file's name and the browser's Content-Type are never consulted: an HTML page named
``photo.jpg`` is HTML, and a PNG named ``notes.txt`` is a PNG.

Images are decoded with Pillow and written again, so what is stored is only pixels (and a
colour profile): turned upright by their EXIF orientation, with EXIF (GPS, camera serial)
and other metadata left behind, in the original and in every smaller copy.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "FILE_TYPES",
    "FileType",
    "Processed",
    "RefusedFile",
    "Variant",
    "process",
    "sniff",
]


@dataclass(frozen=True)
class FileType:
    mime: str
    extension: str
    #: Served inline (a raster image or a PDF); anything else only ever as an attachment.
    inline: bool
    pillow_format: str = ""  # set for images Pillow decodes


#: Every type this module can recognise, by MIME type. The site's allowed list
#: (``UPLOAD_ALLOWED_TYPES``) picks from these. SVG and HTML are deliberately absent: they
#: can carry script, so they are refused whatever the allowed list says.
FILE_TYPES: dict[str, FileType] = {
    t.mime: t
    for t in (
        FileType("image/jpeg", "jpg", True, "JPEG"),
        FileType("image/png", "png", True, "PNG"),
        FileType("image/gif", "gif", True, "GIF"),
        FileType("image/webp", "webp", True, "WEBP"),
        FileType("application/pdf", "pdf", True),
        FileType("audio/mpeg", "mp3", False),
        FileType("audio/ogg", "ogg", False),
        FileType("video/mp4", "mp4", False),
        FileType("video/webm", "webm", False),
    )
}

_BY_PILLOW_FORMAT = {t.pillow_format: t for t in FILE_TYPES.values() if t.pillow_format}

#: Inline types by extension, for serving: anything else goes out as an attachment.
INLINE_EXTENSIONS = {t.extension: t.mime for t in FILE_TYPES.values() if t.inline}


class RefusedFile(ValueError):
    """The upload is not stored; the message says why, in words for the uploader."""


@dataclass(frozen=True)
class Variant:
    width: int
    height: int
    data: bytes


@dataclass(frozen=True)
class Processed:
    type: FileType
    data: bytes  # what is stored as the original
    width: int | None = None
    height: int | None = None
    variants: list[Variant] = field(default_factory=list)


def _signature_type(head: bytes) -> FileType | None:
    """The non-image types, by their first bytes."""
    if head.startswith(b"%PDF-"):
        return FILE_TYPES["application/pdf"]
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return FILE_TYPES["audio/mpeg"]
    if head.startswith(b"OggS"):
        return FILE_TYPES["audio/ogg"]
    if head[4:8] == b"ftyp" and head[8:12] in (b"isom", b"iso2", b"mp41", b"mp42", b"avc1"):
        return FILE_TYPES["video/mp4"]
    if head.startswith(b"\x1a\x45\xdf\xa3") and b"webm" in head[:64]:
        return FILE_TYPES["video/webm"]
    return None


def _open_image(data: bytes, max_pixels: int) -> Image.Image | None:
    """The image in ``data`` (header read only), or None when it is no image Pillow reads.

    A decompression bomb (more pixels than ``max_pixels``, or than Pillow's own limit) is
    refused before its pixels are decoded."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=list(_BY_PILLOW_FORMAT))
        except (Image.DecompressionBombWarning, Image.DecompressionBombError):
            raise RefusedFile(_too_many_pixels(max_pixels)) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            return None
    width, height = image.size
    if width < 1 or height < 1:
        raise RefusedFile("The image has no pixels.")
    if width * height * max(getattr(image, "n_frames", 1), 1) > max_pixels:
        raise RefusedFile(_too_many_pixels(max_pixels))
    return image


def _too_many_pixels(max_pixels: int) -> str:
    return (
        f"The image is larger than {max_pixels / 1e6:g} million pixels (all frames together), "
        "the most this site decodes. Scale it down and upload it again."
    )


def sniff(data: bytes, max_pixels: int) -> FileType | None:
    """The type of ``data`` by its content, or None when it is none this module knows."""
    image = _open_image(data, max_pixels)
    if image is not None:
        return _BY_PILLOW_FORMAT[image.format or ""]
    return _signature_type(data[:64])


def process(
    data: bytes,
    allowed: Iterable[str],
    widths: Sequence[int],
    max_pixels: int,
) -> Processed:
    """Check ``data`` against the allowed MIME types by its content; for an image, the clean
    original and a copy at each of ``widths`` narrower than it (never enlarged).

    Raises RefusedFile with a message for the uploader."""
    allowed = set(allowed)
    if not data:
        raise RefusedFile("The file is empty.")
    image = _open_image(data, max_pixels)
    if image is None:
        found = _signature_type(data[:64])
        if found is None:
            raise RefusedFile(
                "This kind of file cannot be uploaded (its content is none of: "
                f"{_names(allowed)}). The file's name does not matter, only what is in it."
            )
        if found.mime not in allowed:
            raise RefusedFile(f"{found.mime} files cannot be uploaded here ({_names(allowed)}).")
        return Processed(found, data)
    file_type = _BY_PILLOW_FORMAT[image.format or ""]
    if file_type.mime not in allowed:
        raise RefusedFile(f"{file_type.mime} files cannot be uploaded here ({_names(allowed)}).")
    try:
        return _process_image(image, file_type, data, widths)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise RefusedFile(
            f"The image could not be read ({type(error).__name__}): it may be damaged or cut "
            "short. Export it again and upload the new file."
        ) from None


def _names(allowed: Iterable[str]) -> str:
    return ", ".join(sorted(FILE_TYPES[m].extension.upper() for m in allowed if m in FILE_TYPES))


def _process_image(
    image: Image.Image, file_type: FileType, data: bytes, widths: Sequence[int]
) -> Processed:
    frames = getattr(image, "n_frames", 1)
    if frames > 1 and file_type.mime == "image/gif":
        # Animated GIFs are kept as they are: re-encoding loses their timing or palette, and
        # GIF has no EXIF to leak. Every frame is decoded once to refuse a broken file.
        for index in range(frames):
            image.seek(index)
            image.load()
        return Processed(file_type, data, image.width, image.height)
    if frames > 1:
        # An animated WebP: written again frame by frame, without its metadata.
        out = io.BytesIO()
        image.save(out, "WEBP", save_all=True, lossless=False, quality=90, exif=b"", xmp=b"")
        return Processed(file_type, out.getvalue(), image.width, image.height)
    image.load()
    icc = image.info.get("icc_profile")
    upright = ImageOps.exif_transpose(image)  # the pixels as the camera meant them
    if upright.mode in ("1", "P", "LA", "I", "I;16", "F"):
        # Palettes and unusual depths resize badly (or not at all): full colour for the work.
        has_alpha = upright.mode == "LA" or "transparency" in upright.info
        upright = upright.convert("RGBA" if has_alpha else "RGB")
    original = _encode(upright, file_type, icc)
    variants = []
    for width in sorted(set(widths)):
        if width <= 0 or width >= upright.width:
            continue  # never enlarged; the original serves the largest size
        height = max(1, round(upright.height * width / upright.width))
        smaller = upright.resize((width, height), Image.Resampling.LANCZOS)
        variants.append(Variant(width, height, _encode(smaller, file_type, icc)))
    return Processed(file_type, original, upright.width, upright.height, variants)


def _encode(image: Image.Image, file_type: FileType, icc: bytes | None) -> bytes:
    """``image`` in its format with nothing but pixels and the colour profile: no EXIF,
    XMP or text chunks (Pillow writes those only when asked)."""
    out = io.BytesIO()
    options: dict = {}
    if icc:
        options["icc_profile"] = icc
    if file_type.pillow_format == "JPEG":
        if image.mode not in ("RGB", "L", "CMYK"):
            image = image.convert("RGB")
        options.update(quality=88, optimize=True, progressive=True)
    elif file_type.pillow_format == "PNG":
        options.update(optimize=True)
    elif file_type.pillow_format == "WEBP":
        options.update(quality=88)
    elif file_type.pillow_format == "GIF" and image.mode not in ("P", "L"):
        image = image.convert("P", palette=Image.Palette.ADAPTIVE)
    image.save(out, file_type.pillow_format, **options)
    return out.getvalue()
