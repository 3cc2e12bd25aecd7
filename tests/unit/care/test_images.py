"""Chat images: the type from magic numbers, dimensions from headers without decoding, and the limits."""

from __future__ import annotations

import hashlib
import struct
import zlib

import pytest

from yaodao.care.consultation import MAX_MESSAGE_CHARS, caption_text
from yaodao.care.images import (
    JPEG,
    PNG,
    WEBP,
    ImageLimits,
    ImageRefused,
    Refusal,
    check_image,
    dimensions,
    sniff,
)
from yaodao.kernel.errors import ValidationFailed


def png(width: int, height: int) -> bytes:
    """A PNG (8-bit greyscale) built chunk by chunk; complete up to 64 px wide, else only its header is honest."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = b"".join(b"\x00" + b"\x80" * min(width, 64) for _ in range(min(height, 64)))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def jpeg(width: int, height: int, sof: int = 0xC0) -> bytes:
    """SOI, a JFIF APP0, a quantisation table, the frame header, a scan and EOI."""

    def segment(marker: int, body: bytes) -> bytes:
        return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body

    return (
        b"\xff\xd8"
        + segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
        + segment(0xDB, b"\x00" + bytes(range(1, 65)))
        + segment(sof, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00")
        + segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
        + b"\x00\x11\x22"
        + b"\xff\xd9"
    )


def riff(chunk: bytes, body: bytes) -> bytes:
    payload = b"WEBP" + chunk + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) % 2 else b"")
    return b"RIFF" + struct.pack("<I", len(payload)) + payload


WEBP_1X1_LOSSLESS = riff(b"VP8L", b"\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00")


def webp_lossy(width: int, height: int) -> bytes:
    return riff(b"VP8 ", b"\x30\x01\x00\x9d\x01\x2a" + struct.pack("<HH", width, height) + b"\x00" * 8)


def webp_extended(width: int, height: int) -> bytes:
    return riff(b"VP8X", b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little"))


def refusal(data: bytes, limits: ImageLimits | None = None) -> Refusal:
    with pytest.raises(ImageRefused) as refused:
        check_image(data, limits or ImageLimits())
    assert refused.value.field == "file"
    return refused.value.reason


def test_the_type_comes_from_the_magic_numbers() -> None:
    assert sniff(png(1, 1)) == PNG
    assert sniff(jpeg(1, 1)) == JPEG
    assert sniff(WEBP_1X1_LOSSLESS) == WEBP
    assert sniff(b"hello, this is a text file saved as photo.png\n") is None
    assert sniff(b"GIF89a\x01\x00\x01\x00") is None
    assert sniff(b"RIFF\x10\x00\x00\x00WAVEfmt ") is None


@pytest.mark.parametrize(
    ("data", "content_type", "size"),
    [
        (png(3, 2), PNG, (3, 2)),
        (png(4096, 1), PNG, (4096, 1)),
        (jpeg(640, 480), JPEG, (640, 480)),
        (jpeg(17, 33, sof=0xC2), JPEG, (17, 33)),  # progressive
        (WEBP_1X1_LOSSLESS, WEBP, (1, 1)),
        (webp_lossy(300, 200), WEBP, (300, 200)),
        (webp_extended(1024, 768), WEBP, (1024, 768)),
    ],
)
def test_width_and_height_are_read_from_the_header(data: bytes, content_type: str, size: tuple[int, int]) -> None:
    assert dimensions(data, content_type) == size
    info = check_image(data, ImageLimits())
    assert (info.content_type, info.width, info.height) == (content_type, *size)
    assert info.size_bytes == len(data)
    assert info.sha256 == hashlib.sha256(data).hexdigest()


def test_a_text_file_named_png_and_other_formats_are_refused_by_type() -> None:
    assert refusal(b"hello, this is a text file saved as photo.png\n") is Refusal.TYPE
    assert refusal(b"GIF89a\x01\x00\x01\x00\x80\x00\x00") is Refusal.TYPE
    assert refusal(b"<svg xmlns='http://www.w3.org/2000/svg'/>") is Refusal.TYPE


@pytest.mark.parametrize(
    "data",
    [
        png(3, 2)[:20],  # cut inside IHDR
        b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIDAT" + b"\x00" * 30,  # first chunk is not IHDR
        png(0, 5),  # a zero width says nothing sensible
        jpeg(640, 480)[:30],  # cut before the frame header
        b"\xff\xd8\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" + b"\x00" * 20,  # a scan before any frame header
        jpeg(640, 480)[:-30],  # the frame header itself is cut short
        WEBP_1X1_LOSSLESS[:24],
        riff(b"VP8 ", b"\x30\x01\x00\x00\x00\x00" + b"\x00" * 12),  # no VP8 start code
        riff(b"ALPH", b"\x00" * 20),  # not an image chunk
    ],
)
def test_a_header_cut_short_or_wrong_is_refused(data: bytes) -> None:
    assert refusal(data) is Refusal.HEADER


@pytest.mark.parametrize(
    "data",
    [png(4097, 10), png(2**31 - 1, 2**31 - 1), jpeg(10, 65535), webp_extended(16_000_000, 2), webp_lossy(5000, 10)],
)
def test_huge_declared_dimensions_are_refused_without_decoding(data: bytes) -> None:
    assert len(data) < 200  # the file is tiny: only its header claims the size
    assert refusal(data) is Refusal.DIMENSIONS


def test_size_and_emptiness_are_checked_against_the_limits() -> None:
    data = png(2, 2)
    assert check_image(data, ImageLimits(max_bytes=len(data))).size_bytes == len(data)
    assert refusal(data, ImageLimits(max_bytes=len(data) - 1)) is Refusal.SIZE
    assert refusal(b"") is Refusal.EMPTY
    small = ImageLimits(max_width=100, max_height=50)
    assert check_image(png(100, 50), small).width == 100
    assert refusal(png(100, 51), small) is Refusal.DIMENSIONS


def test_the_limits_default_to_2_mib_4096_px_and_10_images_and_stay_within_what_is_stored() -> None:
    limits = ImageLimits()
    assert (limits.max_bytes, limits.max_width, limits.max_height, limits.max_per_sender) == (
        2 * 1024 * 1024, 4096, 4096, 10,
    )  # fmt: skip
    with pytest.raises(ValueError, match="max_bytes"):
        ImageLimits(max_bytes=6 * 1024 * 1024)
    with pytest.raises(ValueError, match="max_width"):
        ImageLimits(max_width=0)


def test_a_caption_is_optional_but_held_to_the_message_limits() -> None:
    assert caption_text(None) == ""
    assert caption_text("   ") == ""
    assert caption_text(" 皮疹的照片 ") == "皮疹的照片"
    with pytest.raises(ValidationFailed):
        caption_text("x" * (MAX_MESSAGE_CHARS + 1))
