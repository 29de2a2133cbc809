"""Request validation shaped like the Messaging API's 400 answers.

Each check appends ``{"message", "property"}`` details so a bad body is reported the way
LINE reports it: ``{"message": "The request body has N error(s)", "details": [...]}``.
"""

from __future__ import annotations

import re
from typing import Any

MESSAGE_TYPES = (
    "text",
    "textV2",
    "image",
    "video",
    "audio",
    "sticker",
    "location",
    "imagemap",
    "template",
    "flex",
)
ACTION_TYPES = (
    "postback",
    "message",
    "uri",
    "datetimepicker",
    "camera",
    "cameraRoll",
    "location",
    "richmenuswitch",
    "clipboard",
)
FLEX_COMPONENTS = ("box", "button", "image", "video", "icon", "text", "span", "separator", "filler")
BOX_LAYOUTS = ("horizontal", "vertical", "baseline")
TEMPLATE_TYPES = ("buttons", "confirm", "carousel", "image_carousel")

# LINE accepts user, group and room ids in this form.
CHAT_ID_RE = re.compile(r"^[UCR][0-9a-f]{32}$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def one_of(values: tuple[str, ...]) -> str:
    return f"must be one of the following values: [{', '.join(values)}]"


def char_len(value: str) -> int:
    """Length as LINE counts it (UTF-16 code units), so emoji count twice."""
    return len(value.encode("utf-16-le")) // 2


class Errors:
    def __init__(self) -> None:
        self.details: list[dict[str, str]] = []

    def add(self, prop: str, message: str) -> None:
        self.details.append({"message": message, "property": prop})

    def body(self) -> dict[str, Any]:
        return {
            "message": f"The request body has {len(self.details)} error(s)",
            "details": self.details,
        }

    def __bool__(self) -> bool:
        return bool(self.details)


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else None


def check_str(
    errors: Errors,
    obj: Any,
    key: str,
    prop: str,
    *,
    max_len: int | None = None,
    min_len: int = 1,
    required: bool = True,
) -> str | None:
    value = _get(obj, key)
    if value is None:
        if required:
            errors.add(prop, "must be specified")
        return None
    if not isinstance(value, str):
        errors.add(prop, "must be a string")
        return None
    if min_len and value == "" and required:
        errors.add(prop, "must be specified")
        return None
    n = char_len(value)
    if n < min_len or (max_len is not None and n > max_len):
        errors.add(prop, f"Length must be between {min_len} and {max_len}")
    return value


def check_https(errors: Errors, obj: Any, key: str, prop: str, *, required: bool = True) -> None:
    value = check_str(errors, obj, key, prop, max_len=2000, required=required)
    if value and not value.startswith("https://"):
        errors.add(prop, "must be an HTTPS URL")


def check_list(
    errors: Errors, obj: Any, key: str, prop: str, lo: int, hi: int, *, required: bool = True
) -> list[Any]:
    value = _get(obj, key)
    if value is None:
        if required:
            errors.add(prop, "must be specified")
        return []
    if not isinstance(value, list):
        errors.add(prop, "must be an array")
        return []
    if not lo <= len(value) <= hi:
        errors.add(prop, f"Size must be between {lo} and {hi}")
    return value


def check_action(
    errors: Errors, action: Any, prop: str, *, label_required: bool, label_max: int = 20
) -> None:
    if not isinstance(action, dict):
        errors.add(prop, "must be specified")
        return
    kind = action.get("type")
    if kind not in ACTION_TYPES:
        errors.add(f"{prop}.type", one_of(ACTION_TYPES))
        return
    check_str(errors, action, "label", f"{prop}.label", max_len=label_max, required=label_required)
    if kind == "postback":
        check_str(errors, action, "data", f"{prop}.data", max_len=300)
        check_str(errors, action, "displayText", f"{prop}.displayText", max_len=300, required=False)
        check_str(errors, action, "text", f"{prop}.text", max_len=300, required=False)
    elif kind == "message":
        check_str(errors, action, "text", f"{prop}.text", max_len=300)
    elif kind == "uri":
        check_str(errors, action, "uri", f"{prop}.uri", max_len=1000)
    elif kind == "datetimepicker":
        check_str(errors, action, "data", f"{prop}.data", max_len=300)
        if action.get("mode") not in ("date", "time", "datetime"):
            errors.add(f"{prop}.mode", one_of(("date", "time", "datetime")))
    elif kind == "richmenuswitch":
        check_str(errors, action, "richMenuAliasId", f"{prop}.richMenuAliasId", max_len=32)
        check_str(errors, action, "data", f"{prop}.data", max_len=300)
    elif kind == "clipboard":
        check_str(errors, action, "clipboardText", f"{prop}.clipboardText", max_len=1000)


def check_quick_reply(errors: Errors, quick_reply: Any, prop: str) -> None:
    if not isinstance(quick_reply, dict):
        errors.add(prop, "must be an object")
        return
    items = check_list(errors, quick_reply, "items", f"{prop}.items", 1, 13)
    for i, item in enumerate(items):
        p = f"{prop}.items[{i}]"
        if _get(item, "type") != "action":
            errors.add(f"{p}.type", one_of(("action",)))
        check_https(errors, item, "imageUrl", f"{p}.imageUrl", required=False)
        check_action(errors, _get(item, "action"), f"{p}.action", label_required=True)


def check_flex_component(errors: Errors, comp: Any, prop: str, depth: int = 0) -> None:
    if depth > 50:
        errors.add(prop, "nesting too deep")
        return
    if not isinstance(comp, dict):
        errors.add(prop, "must be an object")
        return
    kind = comp.get("type")
    if kind not in FLEX_COMPONENTS:
        errors.add(f"{prop}.type", one_of(FLEX_COMPONENTS))
        return
    if "action" in comp and kind != "button":
        check_action(errors, comp["action"], f"{prop}.action", label_required=False, label_max=40)
    if kind == "box":
        if comp.get("layout") not in BOX_LAYOUTS:
            errors.add(f"{prop}.layout", one_of(BOX_LAYOUTS))
        contents = check_list(errors, comp, "contents", f"{prop}.contents", 0, 10_000)
        for i, child in enumerate(contents):
            check_flex_component(errors, child, f"{prop}.contents[{i}]", depth + 1)
    elif kind == "button":
        check_action(
            errors, comp.get("action"), f"{prop}.action", label_required=True, label_max=40
        )
    elif kind == "text":
        if comp.get("contents"):
            spans = check_list(errors, comp, "contents", f"{prop}.contents", 0, 10_000)
            for i, child in enumerate(spans):
                check_flex_component(errors, child, f"{prop}.contents[{i}]", depth + 1)
        else:
            check_str(errors, comp, "text", f"{prop}.text")
    elif kind == "span":
        check_str(errors, comp, "text", f"{prop}.text")
    elif kind in ("image", "icon"):
        check_https(errors, comp, "url", f"{prop}.url")


def check_bubble(errors: Errors, bubble: Any, prop: str) -> None:
    if not isinstance(bubble, dict) or bubble.get("type") != "bubble":
        errors.add(f"{prop}.type", one_of(("bubble",)))
        return
    for block in ("header", "hero", "body", "footer"):
        if block in bubble:
            check_flex_component(errors, bubble[block], f"{prop}.{block}")
    if "action" in bubble:
        check_action(errors, bubble["action"], f"{prop}.action", label_required=False)


def check_flex_container(errors: Errors, container: Any, prop: str) -> None:
    kind = _get(container, "type")
    if kind == "bubble":
        check_bubble(errors, container, prop)
    elif kind == "carousel":
        bubbles = check_list(errors, container, "contents", f"{prop}.contents", 1, 12)
        for i, bubble in enumerate(bubbles):
            check_bubble(errors, bubble, f"{prop}.contents[{i}]")
    elif container is None:
        errors.add(prop, "must be specified")
    else:
        errors.add(f"{prop}.type", one_of(("bubble", "carousel")))


def check_template(errors: Errors, template: Any, prop: str) -> None:
    kind = _get(template, "type")
    if kind not in TEMPLATE_TYPES:
        errors.add(f"{prop}.type", one_of(TEMPLATE_TYPES))
        return
    if kind in ("buttons", "confirm"):
        check_str(errors, template, "text", f"{prop}.text", max_len=240)
        lo, hi = (2, 2) if kind == "confirm" else (1, 4)
        actions = check_list(errors, template, "actions", f"{prop}.actions", lo, hi)
        for i, action in enumerate(actions):
            check_action(errors, action, f"{prop}.actions[{i}]", label_required=True)
    else:
        columns = check_list(errors, template, "columns", f"{prop}.columns", 1, 10)
        for i, column in enumerate(columns):
            if kind == "carousel":
                check_str(errors, column, "text", f"{prop}.columns[{i}].text", max_len=120)
                for j, action in enumerate(_get(column, "actions") or []):
                    check_action(
                        errors, action, f"{prop}.columns[{i}].actions[{j}]", label_required=True
                    )
            else:
                check_action(
                    errors,
                    _get(column, "action"),
                    f"{prop}.columns[{i}].action",
                    label_required=False,
                    label_max=12,
                )


def check_message(errors: Errors, message: Any, prop: str) -> None:
    if not isinstance(message, dict):
        errors.add(prop, "must be an object")
        return
    kind = message.get("type")
    if kind is None:
        errors.add(f"{prop}.type", "must be specified")
        return
    if kind not in MESSAGE_TYPES:
        errors.add(f"{prop}.type", one_of(MESSAGE_TYPES))
        return
    if kind in ("text", "textV2"):
        check_str(errors, message, "text", f"{prop}.text", max_len=5000)
    elif kind == "image":
        check_https(errors, message, "originalContentUrl", f"{prop}.originalContentUrl")
        check_https(errors, message, "previewImageUrl", f"{prop}.previewImageUrl")
    elif kind == "video":
        check_https(errors, message, "originalContentUrl", f"{prop}.originalContentUrl")
        check_https(errors, message, "previewImageUrl", f"{prop}.previewImageUrl")
    elif kind == "audio":
        check_https(errors, message, "originalContentUrl", f"{prop}.originalContentUrl")
        if not isinstance(message.get("duration"), int):
            errors.add(f"{prop}.duration", "must be specified")
    elif kind == "sticker":
        check_str(errors, message, "packageId", f"{prop}.packageId")
        check_str(errors, message, "stickerId", f"{prop}.stickerId")
    elif kind == "location":
        check_str(errors, message, "title", f"{prop}.title", max_len=100)
        check_str(errors, message, "address", f"{prop}.address", max_len=100)
        for key in ("latitude", "longitude"):
            if not isinstance(message.get(key), int | float):
                errors.add(f"{prop}.{key}", "must be specified")
    elif kind == "imagemap":
        check_https(errors, message, "baseUrl", f"{prop}.baseUrl")
        check_str(errors, message, "altText", f"{prop}.altText", max_len=1500)
        if not isinstance(message.get("baseSize"), dict):
            errors.add(f"{prop}.baseSize", "must be specified")
        check_list(errors, message, "actions", f"{prop}.actions", 0, 50)
    elif kind == "template":
        check_str(errors, message, "altText", f"{prop}.altText", max_len=400)
        check_template(errors, message.get("template"), f"{prop}.template")
    elif kind == "flex":
        check_str(errors, message, "altText", f"{prop}.altText", max_len=1500)
        check_flex_container(errors, message.get("contents"), f"{prop}.contents")
    if "quickReply" in message and message["quickReply"] is not None:
        check_quick_reply(errors, message["quickReply"], f"{prop}.quickReply")
    sender = message.get("sender")
    if sender is not None:
        check_str(errors, sender, "name", f"{prop}.sender.name", max_len=20, required=False)


def check_messages(errors: Errors, body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = check_list(errors, body, "messages", "messages", 1, 5)
    for i, message in enumerate(messages):
        check_message(errors, message, f"messages[{i}]")
    return messages


def check_rich_menu(errors: Errors, menu: Any) -> None:
    size = _get(menu, "size")
    width = _get(size, "width")
    height = _get(size, "height")
    if not isinstance(width, int) or not isinstance(height, int):
        errors.add("size", "must be specified")
        width = height = None
    elif not (800 <= width <= 2500 and height >= 250 and width / height >= 1.45):
        errors.add("size", "invalid rich menu size")
    if not isinstance(_get(menu, "selected"), bool):
        errors.add("selected", "must be specified")
    check_str(errors, menu, "name", "name", max_len=300)
    check_str(errors, menu, "chatBarText", "chatBarText", max_len=14)
    areas = check_list(errors, menu, "areas", "areas", 0, 20)
    for i, area in enumerate(areas):
        bounds = _get(area, "bounds")
        vals = [_get(bounds, k) for k in ("x", "y", "width", "height")]
        if not all(isinstance(v, int) and v >= 0 for v in vals):
            errors.add(f"areas[{i}].bounds", "must be specified")
        elif (
            width is not None
            and height is not None
            and (vals[0] + vals[2] > width or vals[1] + vals[3] > height)
        ):
            errors.add(f"areas[{i}].bounds", "must be inside the rich menu")
        check_action(errors, _get(area, "action"), f"areas[{i}].action", label_required=False)
