"""Evidence of every kind reaches storage and the console without its metadata.

Each file is built here the way a phone or office software writes it, sent through LINE
as a reporter would (as a file, whatever its name, or as an image, video or audio
message), fetched and cleaned by the worker. Then the metadata is looked for everywhere
an attacker or a staff member could see it: the decrypted stored file, the raw database
bytes, and the case page.
"""

from __future__ import annotations

import io

import av
import pikepdf
import pytest
from evidencekit import (
    AUDIO_SECRETS,
    AUDIO_TAGS,
    CAMERA_MAKE,
    LOCATION,
    PDF_SECRETS,
    PHOTO_SECRETS,
    VIDEO_SECRETS,
    attachments_of,
    audio_with_tags,
    console_as,
    file_report_with,
    heic_with_gps,
    pdf_with_author,
    photo_with_gps,
    send_audio,
    send_file,
    send_image,
    send_video,
    stored_content,
    video_with_location,
)
from PIL import Image

from store import sanitize
from tests.conftest import Bot, Chat, Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()  # the plain clock, not the stolen-server test's recording one


def _nowhere(bot: Bot, case_id: int, contents: list[bytes], secrets: tuple[str, ...]) -> str:
    """Assert no secret is in the stored files, the raw database or the case page; returns
    the page (English) for further checks."""
    raw = bot.stored_bytes()
    page = console_as(bot, "somsri").get(f"/console/cases/{case_id}").get_data(as_text=True)
    for secret in secrets:
        needle = secret.encode()
        assert not any(needle in c for c in contents), f"{secret!r} survived in a stored file"
        assert needle not in raw, f"{secret!r} is in the database bytes"
        assert secret not in page, f"{secret!r} is shown on the case page"
    return page


def _image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_a_photo_sent_as_a_file_loses_gps_camera_and_serial_whatever_its_name(
    bot: Bot, chat: Chat
) -> None:
    photo = photo_with_gps()
    filed = file_report_with(
        chat,
        send_file(photo, "IMG_20240501_093015.jpg", "image/jpeg"),
        send_file(photo, "meeting-notes.txt", "text/plain"),
    )
    bot.run_worker()
    case_id, rows = attachments_of(bot, filed.case_number)
    assert [r.state for r in rows] == ["stored", "stored"]
    contents = [stored_content(bot, r) for r in rows]
    for row, content in zip(rows, contents, strict=True):
        assert row.held_back is None and row.content_type == "image/jpeg"
        image = _image(content)
        assert image.size == (320, 240)
        assert dict(image.getexif()) == {} and "xmp" not in image.info
        assert b"Exif" not in content and b"GPS" not in content
        assert set((row.removed or "").split(",")) >= {"gps", "camera", "serial", "capture_time"}
    page = _nowhere(bot, case_id, contents, PHOTO_SECRETS)
    assert "What was removed: GPS position, camera make and model, serial numbers" in page
    assert "meeting-notes" not in page and "IMG_2024" not in page, "the sender's file names"


def test_a_photo_keeps_its_upright_rotation_and_loses_its_exif(bot: Bot, chat: Chat) -> None:
    filed = file_report_with(chat, send_image(photo_with_gps(orientation=6)))
    bot.run_worker()
    _, [row] = attachments_of(bot, filed.case_number)
    image = _image(stored_content(bot, row))
    assert image.size == (240, 320), "turned as the phone showed it"
    assert dict(image.getexif()) == {}
    corner = image.getpixel((235, 5))
    assert isinstance(corner, tuple) and corner[2] > 150, "the marked corner moved with it"


def test_an_iphone_heic_photo_is_re_encoded_without_its_metadata(bot: Bot, chat: Chat) -> None:
    filed = file_report_with(chat, send_file(heic_with_gps(), "IMG_0042.HEIC"))
    bot.run_worker()
    _, [row] = attachments_of(bot, filed.case_number)
    content = stored_content(bot, row)
    assert (row.state, row.held_back, row.content_type) == ("stored", None, "image/jpeg")
    assert _image(content).size == (64, 48) and CAMERA_MAKE.encode() not in content
    assert {"gps", "camera"} <= set((row.removed or "").split(","))


def test_a_video_loses_its_recording_place_and_tags(bot: Bot, chat: Chat) -> None:
    filed = file_report_with(
        chat,
        send_video(video_with_location("mp4")),
        send_file(video_with_location("mov"), "clip.mov", "video/quicktime"),
    )
    bot.run_worker()
    case_id, rows = attachments_of(bot, filed.case_number)
    assert [(r.state, r.held_back) for r in rows] == [("stored", None), ("stored", None)]
    assert [r.content_type for r in rows] == ["video/mp4", "video/quicktime"]
    contents = [stored_content(bot, r) for r in rows]
    for row, content in zip(rows, contents, strict=True):
        assert b"loci" not in content and b"\xa9xyz" not in content
        assert b"\xa9too" not in content, "no encoder tag either"
        with av.open(io.BytesIO(content)) as clean:
            tags = set(clean.metadata) - {"major_brand", "minor_version", "compatible_brands"}
            assert tags == set(), f"container tags left: {tags}"
            [stream] = clean.streams.video
            assert set(stream.metadata) <= {"language", "handler_name", "vendor_id"}
            assert "Somchai" not in stream.metadata.get("handler_name", "")
            assert sum(1 for _ in clean.demux(stream) if _.size) == 10, "every frame kept"
        assert {"location", "tags", "capture_time"} <= set((row.removed or "").split(","))
    page = _nowhere(bot, case_id, contents, (*VIDEO_SECRETS, "Somchai Phone Camera"))
    assert "location" in page and "tags (title, artist, comment)" in page
    assert LOCATION not in page


@pytest.mark.parametrize(
    "send",
    [
        pytest.param(lambda: send_audio(audio_with_tags("ipod", "aac")), id="m4a-voice-message"),
        pytest.param(
            lambda: send_file(audio_with_tags("mp3", "libmp3lame", 44100), "memo.mp3"),
            id="mp3-file",
        ),
    ],
)
def test_an_audio_recording_loses_its_tags(bot: Bot, chat: Chat, send) -> None:  # type: ignore[no-untyped-def]
    filed = file_report_with(chat, send())
    bot.run_worker()
    case_id, [row] = attachments_of(bot, filed.case_number)
    assert (row.state, row.held_back) == ("stored", None)
    assert row.content_type in ("audio/mp4", "audio/mpeg")
    content = stored_content(bot, row)
    assert b"ID3" not in content[:3], "no ID3 tag block at all"
    with av.open(io.BytesIO(content)) as clean:
        assert not set(clean.metadata) & set(AUDIO_TAGS)
        assert len(clean.streams.audio) == 1
    assert "tags" in (row.removed or "")
    _nowhere(bot, case_id, [content], AUDIO_SECRETS)


def test_a_pdf_loses_its_author_xmp_annotation_names_and_the_exif_of_its_scans(
    bot: Bot, chat: Chat
) -> None:
    filed = file_report_with(chat, send_file(pdf_with_author(), "ใบเสร็จ.pdf", "application/pdf"))
    bot.run_worker()
    case_id, [row] = attachments_of(bot, filed.case_number)
    assert (row.state, row.held_back, row.content_type) == ("stored", None, "application/pdf")
    content = stored_content(bot, row)
    with pikepdf.open(io.BytesIO(content)) as clean:
        assert "/Info" not in clean.trailer and "/Metadata" not in clean.Root
        page = clean.pages[0]
        assert "/T" not in page.Annots[0] and str(page.Annots[0].Contents) == "see the receipt"
        scan = _image(page.Resources.XObject.Im0.read_raw_bytes())
        assert scan.size == (320, 240) and dict(scan.getexif()) == {}, "the scan stays, clean"
    removed = set((row.removed or "").split(","))
    assert {"author", "software", "xmp", "annotation_authors", "image_metadata"} <= removed
    html = _nowhere(bot, case_id, [content], PDF_SECRETS)
    assert "author or owner" in html and "XMP metadata" in html


def test_the_cleaned_copy_is_judged_by_content_not_by_what_line_or_the_name_claims() -> None:
    photo = photo_with_gps()
    assert sanitize.sniff(photo) == "jpeg"
    assert sanitize.sniff(video_with_location("mov")) == "mov"
    assert sanitize.sniff(audio_with_tags("mp3", "libmp3lame", 44100)) == "mp3"
    assert sanitize.sniff(pdf_with_author()) == "pdf"
    assert sanitize.sniff(b"<html><script>alert(1)</script>") is None
    assert sanitize.sniff(b"PK\x03\x04" + bytes(40)) is None
