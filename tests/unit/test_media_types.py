"""The media allow-list: what we store and serve from our bucket, and what we refuse."""

from __future__ import annotations

import re

import pytest

from videotasks.domain.media_types import (
    UnsafeMediaError,
    checked_media_type,
    content_disposition,
    normalise_media_type,
    peek,
    served_media_type,
    sniff_media_type,
)

MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
MOV = b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  "
WEBM = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01"
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 "
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00"
HTML = b"<!doctype html><script>alert(document.domain)</script>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt "


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("video/mp4", "video/mp4"),
        ('Video/MP4; codecs="avc1.42E01E"', "video/mp4"),
        (" image/JPG ", "image/jpeg"),
        (None, ""),
    ],
)
def test_a_media_type_is_normalised_to_its_lowercase_essence(header: str | None, expected: str) -> None:
    assert normalise_media_type(header) == expected


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (MP4, "video/mp4"),
        (MOV, "video/quicktime"),
        (WEBM, "video/webm"),
        (PNG, "image/png"),
        (JPEG, "image/jpeg"),
        (WEBP, "image/webp"),
        (GIF, "image/gif"),
        (HTML, None),
        (SVG, None),
        (WAV, None),  # RIFF but not WebP
        (b"", None),
    ],
)
def test_sniffing_recognises_the_allowed_formats_only(head: bytes, expected: str | None) -> None:
    assert sniff_media_type(head) == expected


def test_an_allowed_declared_type_stands_with_its_parameters_dropped() -> None:
    assert checked_media_type("video/webm; codecs=vp9", WEBM) == "video/webm"


@pytest.mark.parametrize("generic", [None, "", "application/octet-stream", "binary/octet-stream"])
def test_a_missing_or_generic_type_is_decided_by_the_bytes(generic: str | None) -> None:
    assert checked_media_type(generic, MP4) == "video/mp4"
    assert checked_media_type(generic, PNG) == "image/png"


@pytest.mark.parametrize("declared", ["text/html", "image/svg+xml", "application/json", "text/plain; charset=utf-8"])
def test_a_declared_type_off_the_list_is_refused_and_named(declared: str) -> None:
    with pytest.raises(UnsafeMediaError, match=re.escape(declared.split(";")[0])):
        checked_media_type(declared, HTML)


def test_a_declared_type_off_the_list_is_refused_even_when_the_bytes_look_like_video() -> None:
    with pytest.raises(UnsafeMediaError, match="text/html"):
        checked_media_type("text/html", MP4)


@pytest.mark.parametrize("body", [HTML, SVG, b""])
def test_a_generic_type_over_unknown_bytes_is_refused(body: bytes) -> None:
    with pytest.raises(UnsafeMediaError, match="application/octet-stream"):
        checked_media_type("application/octet-stream", body)


def test_the_disposition_is_inline_with_a_filename_that_cannot_break_the_header() -> None:
    assert content_disposition("video_1234", "video/mp4") == 'inline; filename="video_1234.mp4"'
    assert content_disposition('a"b;\r\nc', "image/jpeg") == 'inline; filename="a_b___c.jpg"'


def test_an_object_stored_with_an_unsafe_type_is_served_as_a_download() -> None:
    assert served_media_type("video/mp4") == ("video/mp4", "inline")
    assert served_media_type("text/html") == ("application/octet-stream", "attachment")
    assert served_media_type(None) == ("application/octet-stream", "attachment")


def test_peek_returns_the_first_bytes_and_the_whole_stream_again() -> None:
    chunks = iter([b"ab", b"cdefgh", b"ijklmnopqrstuv", b"wxyz"])

    head, again = peek(chunks, size=10)

    assert head == b"abcdefghij"
    assert b"".join(again) == b"abcdefghijklmnopqrstuvwxyz"


def test_peek_of_a_short_stream_returns_what_there_is() -> None:
    head, again = peek(iter([b"abc"]))

    assert (head, b"".join(again)) == (b"abc", b"abc")
