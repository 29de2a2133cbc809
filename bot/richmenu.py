"""The rich menu: three large buttons — report, check status, help — under the chat."""

from __future__ import annotations

import io
from pathlib import Path

from linebot.v3.messaging import (
    ApiClient,
    Configuration,
    MessagingApi,
    MessagingApiBlob,
    RichMenuRequest,
)
from PIL import Image, ImageDraw, ImageFont

from bot.config import Settings
from handlers.texts import t

WIDTH, HEIGHT = 2500, 843
# Debian's fonts-thai-tlwg; without a Thai font the buttons are drawn as plain colours.
THAI_FONTS = (
    "/usr/share/fonts/truetype/tlwg/Loma-Bold.ttf",
    "/usr/share/fonts/opentype/tlwg/Loma-Bold.otf",
    "/usr/share/fonts/truetype/tlwg/Garuda-Bold.ttf",
)
# Postbacks, not typed words: a tap in the middle of the form is a command, never an answer.
BUTTONS = (
    ("richmenu_report", "report", "#06C755"),
    ("richmenu_status", "status", "#1F6FEB"),
    ("richmenu_help", "help", "#6E7781"),
)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in THAI_FONTS:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default()


def menu_image() -> bytes:
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    third = WIDTH // 3
    for index, (label_key, _command, colour) in enumerate(BUTTONS):
        left = index * third
        draw.rectangle([left + 12, 12, left + third - 12, HEIGHT - 12], fill=colour)
        centre = (left + third // 2, HEIGHT // 2)
        draw.text(
            (centre[0], centre[1] - 70),
            t("th", label_key),
            font=_font(120),
            fill="white",
            anchor="mm",
        )
        draw.text(
            (centre[0], centre[1] + 90),
            t("en", label_key),
            font=_font(90),
            fill="white",
            anchor="mm",
        )
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def menu_definition() -> dict[str, object]:
    third = WIDTH // 3
    return {
        "size": {"width": WIDTH, "height": HEIGHT},
        "selected": True,
        "name": "Krasip main menu",
        "chatBarText": t("th", "richmenu_bar"),
        "areas": [
            {
                "bounds": {"x": index * third, "y": 0, "width": third, "height": HEIGHT},
                "action": {
                    "type": "postback",
                    "data": f"s=cmd&v={command}",
                    "displayText": t("th", label_key),
                },
            }
            for index, (label_key, command, _colour) in enumerate(BUTTONS)
        ],
    }


def install_rich_menu(settings: Settings) -> str:
    """Create the menu, upload its image and make it the default; returns its id."""
    api = MessagingApi(
        ApiClient(
            Configuration(
                host=settings.line_api_base_url, access_token=settings.line_channel_access_token
            )
        )
    )
    blob = MessagingApiBlob(
        ApiClient(
            Configuration(
                host=settings.line_data_api_base_url,
                access_token=settings.line_channel_access_token,
            )
        )
    )
    created = api.create_rich_menu(RichMenuRequest.from_dict(menu_definition()))
    blob.set_rich_menu_image(
        created.rich_menu_id, body=bytearray(menu_image()), _headers={"Content-Type": "image/png"}
    )
    api.set_default_rich_menu(created.rich_menu_id)
    return str(created.rich_menu_id)
