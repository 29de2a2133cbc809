"""Evidence files as phones and office software make them, built in the test, and a
reporter who sends them; for the tests/attack/test_evidence_*.py modules."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from typing import Any

import av
import numpy
import pikepdf
from PIL import Image
from sqlalchemy import select

from store import media, staff
from store.models import Attachment, Case
from tests.conftest import Bot, Chat
from tests.console.consolekit import PASSWORD, Account, Console
from tests.test_report_end_to_end import THAI, Filed, _receipt, thai_report_up_to_the_evidence_step

# --- the files -------------------------------------------------------------------------

CAMERA_MAKE = "KrasipTestCam"
CAMERA_MODEL = "Model-X100"
CAMERA_SERIAL = "SN-KRASIP-4711"
OWNER = "Somchai Witness"
CAPTURED = "2024:05:01 09:30:15"
XMP_MARK = "KrasipXmpCreator"
PHOTO_SECRETS = (CAMERA_MAKE, CAMERA_MODEL, CAMERA_SERIAL, OWNER, CAPTURED, XMP_MARK)


def photo_with_gps(orientation: int | None = None) -> bytes:
    """A JPEG as a phone writes it: GPS, make and model, body serial, owner, capture time,
    and an XMP packet; 320 × 240 pixels as stored (rotated if ``orientation`` says so)."""
    image = Image.new("RGB", (320, 240), (180, 40, 40))
    image.paste((20, 20, 200), (0, 0, 40, 40))  # a mark in one corner, to see rotation
    exif = Image.Exif()
    exif[0x010F] = CAMERA_MAKE
    exif[0x0110] = CAMERA_MODEL
    exif[0x013B] = OWNER  # Artist
    if orientation:
        exif[0x0112] = orientation
    exif[0x8825] = {1: "N", 2: (13.0, 45.0, 22.68), 3: "E", 4: (100.0, 30.0, 6.48)}
    exif[0x8769] = {0xA431: CAMERA_SERIAL, 0x9003: CAPTURED, 0xA430: OWNER}
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="{XMP_MARK}"/>'
        "</rdf:RDF></x:xmpmeta>"
    )
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, xmp=xmp.encode())
    data = out.getvalue()
    assert all(s.encode() in data for s in PHOTO_SECRETS), "the test photo carries it all"
    return data


def heic_with_gps() -> bytes:
    from pillow_heif import register_heif_opener

    register_heif_opener()
    exif = Image.Exif()
    exif[0x010F] = CAMERA_MAKE
    exif[0x0110] = CAMERA_MODEL
    exif[0x8825] = {1: "N", 2: (13.0, 45.0, 22.68), 3: "E", 4: (100.0, 30.0, 6.48)}
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 160, 60)).save(out, format="HEIF", exif=exif)
    return out.getvalue()


LOCATION = "+13.7563+100.5018/"
VIDEO_TAGS = {
    "title": "KrasipSecretTitle",
    "artist": "Somchai Recorder",
    "comment": "recorded at the district office",
    "creation_time": "2024-05-01T09:30:15Z",
}
VIDEO_SECRETS = (LOCATION, "+13.7563", *[v for k, v in VIDEO_TAGS.items() if k != "creation_time"])


def video_with_location(container: str = "mp4") -> bytes:
    """Ten frames of MPEG-4 video with a recording place (MP4 `loci`, QuickTime `©xyz`)
    and the tags a phone or an editor writes."""
    out = io.BytesIO()
    with av.open(out, "w", format=container) as target:
        target.metadata["location"] = LOCATION
        target.metadata.update(VIDEO_TAGS)
        stream = target.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.metadata["handler_name"] = "Somchai Phone Camera"
        for i in range(10):
            pixels = numpy.full((48, 64, 3), i * 20, numpy.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            for packet in stream.encode(frame):
                target.mux(packet)
        for packet in stream.encode():
            target.mux(packet)
    data = out.getvalue()
    assert (b"\xa9xyz" if container == "mov" else b"loci") in data
    return data


AUDIO_TAGS = {
    "title": "KrasipSecretMemo",
    "artist": "Somchai Speaker",
    "album": "Evidence Tapes",
    "comment": "voice memo at the district office",
}
AUDIO_SECRETS = tuple(AUDIO_TAGS.values())


def audio_with_tags(container: str = "ipod", codec: str = "aac", rate: int = 16000) -> bytes:
    """Half a second of silence with title, artist, album and comment tags (M4A or MP3)."""
    out = io.BytesIO()
    with av.open(out, "w", format=container) as target:
        target.metadata.update(AUDIO_TAGS)
        stream = target.add_stream(codec, rate=rate)
        stream.layout = "mono"
        size = stream.codec_context.frame_size or 1024
        dtype = {"fltp": numpy.float32, "s16p": numpy.int16, "s32p": numpy.int32}
        for i in range(rate // size // 2 + 1):
            frame = av.AudioFrame.from_ndarray(
                numpy.zeros((1, size), dtype[stream.format.name]),
                format=stream.format.name,
                layout="mono",
            )
            frame.rate, frame.pts = rate, i * size
            for packet in stream.encode(frame):
                target.mux(packet)
        for packet in stream.encode():
            target.mux(packet)
    data = out.getvalue()
    assert all(s.encode() in data for s in AUDIO_SECRETS), "the test audio carries its tags"
    return data


PDF_SECRETS = (
    "Somchai PDF Author",
    "SomchaiWriter 3.1",
    "Somchai Distiller",
    "KrasipSecretReport",
    "Somchai XMP Creator",
    "Somchai Reviewer",
    CAMERA_MAKE,
)


def pdf_with_author() -> bytes:
    """A one-page PDF with an Info dictionary, XMP, an annotation author, and a scanned
    photo inside it that still has its EXIF (as a phone's "scan to PDF" makes them)."""
    pdf = pikepdf.new()
    pdf.add_blank_page()
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["dc:creator"] = ["Somchai XMP Creator"]
        meta["xmp:CreatorTool"] = "SomchaiWriter 3.1"
    pdf.docinfo["/Author"] = "Somchai PDF Author"
    pdf.docinfo["/Creator"] = "SomchaiWriter 3.1"
    pdf.docinfo["/Producer"] = "Somchai Distiller"
    pdf.docinfo["/Title"] = "KrasipSecretReport"
    scan = pikepdf.Stream(pdf, photo_with_gps())
    scan.Type, scan.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    scan.Width, scan.Height, scan.BitsPerComponent = 320, 240, 8
    scan.ColorSpace, scan.Filter = pikepdf.Name.DeviceRGB, pikepdf.Name.DCTDecode
    page = pdf.pages[0]
    page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=scan))
    page.Contents = pdf.make_stream(b"q 320 0 0 240 0 0 cm /Im0 Do Q")
    note = pikepdf.Dictionary(
        Type=pikepdf.Name.Annot,
        Subtype=pikepdf.Name.Text,
        Rect=[0, 0, 20, 20],
        T=pikepdf.String("Somchai Reviewer"),
        Contents=pikepdf.String("see the receipt"),
    )
    page.Annots = pdf.make_indirect(pikepdf.Array([note]))
    out = io.BytesIO()
    pdf.save(out)
    data = out.getvalue()
    assert all(s.encode() in data for s in PDF_SECRETS), "the test PDF carries it all"
    return data


def png_bomb() -> bytes:
    """About 23 KiB of PNG declaring 14000 × 14000 pixels (588 MB once decoded as RGB)."""
    out = io.BytesIO()
    Image.new("1", (14000, 14000)).save(out, format="PNG")
    return out.getvalue()


def zip_archive() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("docProps/core.xml", "<dc:creator>Somchai Office</dc:creator>")
    return out.getvalue()


ELF = b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x02\x00\x3e\x00" + bytes(200)


# --- the reporter and the staff -----------------------------------------------------------

Send = Callable[[Chat], Any]


def send_file(data: bytes, name: str, content_type: str = "application/octet-stream") -> Send:
    return lambda chat: chat._after(chat.user.send_file(data, name, content_type))


def send_image(data: bytes) -> Send:
    return lambda chat: chat._after(chat.user.send_image(data))


def send_video(data: bytes, content_type: str = "video/mp4") -> Send:
    return lambda chat: chat._after(chat.user.send_video(data, content_type))


def send_audio(data: bytes, content_type: str = "audio/m4a") -> Send:
    return lambda chat: chat._after(chat.user.send_audio(data, content_type))


def file_report_with(chat: Chat, *items: Send) -> Filed:
    """An anonymous Thai report whose evidence step receives ``items``."""
    thai_report_up_to_the_evidence_step(chat)
    for send in items:
        send(chat)
    chat.choose("v=done")
    chat.say(THAI["witnesses"])
    chat.choose("v=yes")
    return _receipt(chat.choose("v=confirm"))


def attachments_of(bot: Bot, number: str) -> tuple[int, list[Attachment]]:
    with bot.runtime.db.transaction() as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        rows = list(
            session.scalars(
                select(Attachment).where(Attachment.case_id == case.id).order_by(Attachment.id)
            )
        )
        for row in rows:
            session.expunge(row)
        return case.id, rows


def stored_content(bot: Bot, row: Attachment) -> bytes:
    return media.read_content(bot.runtime.keys, row)


def account(bot: Bot, username: str, role: str = "staff", lang: str = "en") -> Account:
    with bot.runtime.db.transaction() as session:
        user = staff.create_user(
            session,
            username=username,
            display_name=username,
            role=role,
            password=PASSWORD,
            now=bot.runtime.clock(),
            lang=lang,
        )
        secret = None
        if role in staff.ROLES_NEEDING_TOTP:
            secret = staff.start_totp_enrolment(bot.runtime.keys, user)
    return Account(username, PASSWORD, role, secret)


def console_as(bot: Bot, username: str, role: str = "staff", lang: str = "en") -> Console:
    console = Console(bot)
    console.login(account(bot, username, role, lang))
    return console
