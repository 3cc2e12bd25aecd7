"""Images sent in the consultation chat: what the bytes are, how large they claim to be, and the limits.

The type comes from the bytes' magic numbers, never from the name or the declared content type: only PNG,
JPEG and WebP are taken. Width and height are read from the headers (PNG's IHDR, JPEG's start-of-frame
segment, WebP's VP8/VP8L/VP8X header) without decoding the image, so a file that declares huge dimensions
is refused before anything would try to expand it. A file whose header ends early is refused too.
"""

from __future__ import annotations

import enum
import hashlib
import struct
from dataclasses import dataclass

from yaodao.kernel.errors import ValidationFailed

PNG, JPEG, WEBP = "image/png", "image/jpeg", "image/webp"
ACCEPTED = (PNG, JPEG, WEBP)
MIB = 1024 * 1024
STORE_MAX_BYTES = 5 * MIB  # what the attachments table holds at most

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic); not DHT (C4), JPG (C8), DAC (CC).
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM and RSTn carry no length


class Refusal(enum.StrEnum):
    """Why an image is refused; the web edge picks the status from it."""

    EMPTY = "empty"
    TYPE = "type"  # not PNG, JPEG or WebP by its bytes
    SIZE = "size"  # more bytes than the limit
    HEADER = "header"  # the header is cut short or says nothing sensible
    DIMENSIONS = "dimensions"  # wider or taller than the limit


class ImageRefused(ValidationFailed):
    """An uploaded image breaks a rule; ``reason`` says which."""

    code = "image_refused"

    def __init__(self, message: str, reason: Refusal) -> None:
        super().__init__(message, field="file")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ImageLimits:
    max_bytes: int = 2 * MIB
    max_width: int = 4096
    max_height: int = 4096
    max_per_sender: int = 10  # images one participant may send in one consultation

    def __post_init__(self) -> None:
        if not 1 <= self.max_bytes <= STORE_MAX_BYTES:
            raise ValueError(f"max_bytes must be 1 to {STORE_MAX_BYTES}.")
        if self.max_width < 1 or self.max_height < 1:
            raise ValueError("max_width and max_height must be at least 1.")
        if self.max_per_sender < 0:
            raise ValueError("max_per_sender must be 0 or more.")


@dataclass(frozen=True, slots=True)
class ImageInfo:
    content_type: str
    width: int
    height: int
    size_bytes: int
    sha256: str


def sniff(data: bytes) -> str | None:
    """The content type the bytes' magic numbers say (PNG, JPEG, WebP), or None."""
    if data.startswith(_PNG_SIGNATURE):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    return None


def dimensions(data: bytes, content_type: str) -> tuple[int, int]:
    """(width, height) from the header of an image of ``content_type``; ImageRefused when it cannot be read."""
    if content_type == PNG:
        found = _png_size(data)
    elif content_type == JPEG:
        found = _jpeg_size(data)
    elif content_type == WEBP:
        found = _webp_size(data)
    else:
        raise ImageRefused(f"images must be PNG, JPEG or WebP, not {content_type}", Refusal.TYPE)
    if found is None or found[0] < 1 or found[1] < 1:
        raise ImageRefused(f"the {content_type} header is incomplete or unreadable", Refusal.HEADER)
    return found


def check_image(data: bytes, limits: ImageLimits) -> ImageInfo:
    """Check an uploaded file against ``limits``: its type by magic numbers, its size, its dimensions."""
    if not data:
        raise ImageRefused("the file is empty", Refusal.EMPTY)
    if len(data) > limits.max_bytes:
        raise ImageRefused(f"an image is at most {limits.max_bytes} bytes", Refusal.SIZE)
    content_type = sniff(data)
    if content_type is None:
        raise ImageRefused("images must be PNG, JPEG or WebP (by their content, whatever the file name)", Refusal.TYPE)
    width, height = dimensions(data, content_type)
    if width > limits.max_width or height > limits.max_height:
        raise ImageRefused(
            f"an image is at most {limits.max_width}x{limits.max_height} pixels, this one is {width}x{height}",
            Refusal.DIMENSIONS,
        )
    return ImageInfo(content_type, width, height, len(data), hashlib.sha256(data).hexdigest())


def _png_size(data: bytes) -> tuple[int, int] | None:
    # signature (8), then the first chunk must be IHDR: length 13, type, width, height (big-endian).
    if len(data) < 33 or data[8:16] != b"\x00\x00\x00\rIHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return (width, height) if width < 2**31 and height < 2**31 else None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    at = 2  # after SOI
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in _JPEG_STANDALONE:
            at += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image or start of scan before any frame header
            return None
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        if length < 2:
            return None
        if marker in _JPEG_SOF:
            if length < 7 or at + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return width, height
        at += 2 + length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    if len(data) < 30:
        return None
    chunk = data[12:16]
    if chunk == b"VP8 ":
        # frame tag (3 bytes), start code 9d 01 2a, then 14-bit width and height (little-endian)
        if data[23:26] != b"\x9d\x01\x2a":
            return None
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":
        if data[20] != 0x2F:
            return None
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None
