"""The intake slip's way into the chat: an add-friend QR code for the bot's LINE ID."""

from __future__ import annotations

import qrcode
import qrcode.image.svg
from markupsafe import Markup

QR_BOX = 9  # tenths of a millimetre per module: about 33 mm for a LINE add-friend link


def add_friend_qr(url: str) -> Markup | None:
    """An SVG QR code (one square per module, crisp on any printer) of LINE's add-friend
    link, or None when no LINE ID is configured."""
    if not url:
        return None
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,  # survives a smudged print
        box_size=QR_BOX,
        border=4,  # the quiet zone scanners need
        image_factory=qrcode.image.svg.SvgImage,
    )
    code.add_data(url)
    code.make(fit=True)
    svg = code.make_image().to_string(encoding="unicode")
    return Markup(svg)  # noqa: S704 - generated here from the configured URL, no user input
