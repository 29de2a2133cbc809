"""Log-in: Argon2id password, then TOTP (every role), with growing delays, never a lock.

Failures are counted in the database per account and per address (``store.staff``), so
several gunicorn workers share one count. An attempt made while its wait is not over is
refused before the password is even checked; the first attempt after the wait is checked
as usual, so the right person always gets in (issue 13 finding 6). A browser that signed
in to an account before carries a signed known-device cookie for it and is slowed only by
its own failures, not by an attacker guessing at the same account from elsewhere. An
unknown username gets the same answers, after the same time, as a known one.
"""

from __future__ import annotations

import logging
import math
import secrets
from typing import Any

import qrcode
import qrcode.image.svg
from flask import current_app, redirect, request, url_for
from flask import session as cookie
from itsdangerous import BadSignature, URLSafeTimedSerializer
from markupsafe import Markup
from sqlalchemy.orm import Session

from bot.console import (
    bp,
    client_ip,
    current,
    now,
    render,
    runtime,
    signed_in,
    start_session,
    texts,
    transaction,
)
from bot.console import lang as current_lang
from store import repo, staff
from store.models import StaffUser

log = logging.getLogger(__name__)

PENDING_SECONDS = 300  # between a right password and the TOTP code
DEVICE_DAYS = 90  # a known-device cookie is forgotten after this
DEVICE_ACCOUNTS = 5  # accounts remembered per browser (a shared office computer)


def _audit(session: Session, action: str, username: str, detail: str = "") -> None:
    repo.audit(session, actor=f"staff:{username[:64]}", action=action, now=now(), detail=detail)


def _pending(session: Session) -> StaffUser | None:
    uid, at = cookie.get("pending_uid"), cookie.get("pending_at")
    if uid is None or at is None or now().timestamp() - float(at) > PENDING_SECONDS:
        return None
    user = session.get(StaffUser, int(uid))
    return user if user is not None and user.active else None


# --- known devices -------------------------------------------------------------------


def _device_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(str(current_app.secret_key), salt="krasip.console.device")


def _devices() -> dict[str, str]:
    """username -> random nonce, from this browser's signed known-device cookie."""
    raw = request.cookies.get(current_app.config["KRASIP_DEVICE_COOKIE"])
    if not raw:
        return {}
    try:
        value = _device_serializer().loads(raw, max_age=DEVICE_DAYS * 86400)
    except BadSignature:
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def _device(username: str) -> str | None:
    nonce = _devices().get(username)
    return staff.device_digest(nonce) if nonce else None


def _remember_device(response: Any, username: str) -> None:
    devices = _devices()
    devices.pop(username, None)
    devices[username] = secrets.token_urlsafe(16)  # a new nonce at each log-in
    kept = dict(list(devices.items())[-DEVICE_ACCOUNTS:])
    config = current_app.config
    response.set_cookie(
        config["KRASIP_DEVICE_COOKIE"],
        _device_serializer().dumps(kept),
        max_age=DEVICE_DAYS * 86400,
        secure=bool(config["SESSION_COOKIE_SECURE"]),
        httponly=True,
        samesite="Lax",
        path="/",
    )


# --- the throttle --------------------------------------------------------------------


def _wait(session: Session, username: str) -> float:
    return staff.login_wait(
        session,
        username=username,
        ip=client_ip(),
        now=now(),
        throttle=current_app.config["KRASIP_CONSOLE_THROTTLE"],
        device=_device(username),
    )


def _slow_down(template: str, seconds: float, **context: Any) -> Any:
    wait = max(1, math.ceil(seconds))
    # Not audited: nothing was checked, and a flood of these must not flood the log.
    log.info("console log-in attempt refused: %d s of backoff left", wait)
    page, status = render(
        template, 429, error=texts.t(current_lang(), "login.wait", seconds=wait), **context
    )
    return page, status, {"Retry-After": str(wait)}


def _fail(session: Session, username: str, detail: str) -> None:
    staff.record_login_attempt(
        session,
        username=username,
        ip=client_ip(),
        success=False,
        now=now(),
        device=_device(username),
    )
    _audit(session, "login.failed", username, f"{detail}; ip {client_ip()}")


def _succeed(session: Session, user: StaffUser, detail: str) -> Any:
    at = now()
    staff.record_login_attempt(
        session,
        username=user.username,
        ip=client_ip(),
        success=True,
        now=at,
        device=_device(user.username),
    )
    user.last_login_at = at
    _audit(session, "login", user.username, f"{detail}; ip {client_ip()}")
    start_session(session, user, at)
    response = redirect(url_for("console.case_list"))
    _remember_device(response, user.username)
    return response


# --- the pages -----------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    lang = current_lang()
    if request.method == "GET":
        expired = bool(cookie.pop("expired", False))
        return render("login.html", notice=texts.t(lang, "login.expired") if expired else None)
    username = (request.form.get("username") or "").strip().lower()[:64]
    password = request.form.get("password") or ""
    with transaction() as session:
        wait = _wait(session, username)
        if wait > 0:
            return _slow_down("login.html", wait)
        user = staff.find_user(session, username)
        if user is None or not user.active:
            staff.burn_password_check(password)
            _fail(session, username, "unknown or disabled account")
            return render("login.html", 401, error=texts.t(lang, "login.failed"))
        if not staff.check_password(user, password):
            _fail(session, username, "wrong password")
            return render("login.html", 401, error=texts.t(lang, "login.failed"))
        if not staff.needs_totp(user):
            return _succeed(session, user, "password")
        lang_chosen = cookie.get("lang")
        cookie.clear()
        if lang_chosen:
            cookie["lang"] = lang_chosen
        cookie["pending_uid"] = user.id
        cookie["pending_at"] = now().timestamp()
        if user.totp_secret_ct is None:
            return redirect(url_for("console.enrol"))
        return redirect(url_for("console.login_totp"))


@bp.route("/login/totp", methods=["GET", "POST"])
def login_totp() -> Any:
    lang = current_lang()
    with transaction() as session:
        user = _pending(session)
        if user is None or user.totp_secret_ct is None:
            return redirect(url_for("console.login"))
        if request.method == "GET":
            return render("totp.html")
        wait = _wait(session, user.username)
        if wait > 0:
            return _slow_down("totp.html", wait)
        if not staff.check_totp(runtime().keys, user, request.form.get("code") or "", now()):
            _fail(session, user.username, "wrong TOTP code")
            return render("totp.html", 401, error=texts.t(lang, "totp.failed"))
        return _succeed(session, user, "password and TOTP")


@bp.route("/login/enrol", methods=["GET", "POST"])
def enrol() -> Any:
    """Log-in of an account without a TOTP secret (new, or reset by an admin): show a new
    one as a QR code; the account is in once a first code from it matches."""
    lang = current_lang()
    keys = runtime().keys
    with transaction() as session:
        user = _pending(session)
        if user is None:
            return redirect(url_for("console.login"))
        if request.method == "GET":
            if user.totp_secret_ct is not None:
                # A secret exists (given out by `krasip staff add`): never show it again.
                return redirect(url_for("console.login_totp"))
            secret = staff.start_totp_enrolment(keys, user)
            cookie["enrolling"] = True
            return _enrol_page(secret, user.username)
        secret_or_none = staff.totp_secret(keys, user)
        if secret_or_none is None or not cookie.get("enrolling"):
            return redirect(url_for("console.login"))
        wait = _wait(session, user.username)
        if wait > 0:
            return _enrol_page(secret_or_none, user.username, *_wait_error(wait))
        if not staff.check_totp(keys, user, request.form.get("code") or "", now()):
            _fail(session, user.username, "wrong TOTP code at enrolment")
            return _enrol_page(secret_or_none, user.username, texts.t(lang, "totp.failed"), 401)
        _audit(session, "totp.enrolled", user.username)
        return _succeed(session, user, "password and TOTP (enrolment)")


def _wait_error(seconds: float) -> tuple[str, int]:
    return texts.t(current_lang(), "login.wait", seconds=max(1, math.ceil(seconds))), 429


def _enrol_page(secret: str, username: str, error: str | None = None, status: int = 200) -> Any:
    uri = staff.totp_uri(secret, username)
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    svg = image.to_string(encoding="unicode")
    # The SVG is generated here from our own URI (no user input), so it is safe markup.
    return render(
        "enrol.html",
        status,
        qr=Markup(svg),  # noqa: S704 - generated here from our own URI, no user input
        secret=secret,
        uri=uri,
        error=error,
    )


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    """Ends every session of the account, not just this browser's (a copied cookie too)."""
    staff_now = current()
    with transaction() as session:
        ended = staff.end_sessions(session, staff_now.id)
        repo.audit(
            session,
            actor=staff_now.actor,
            action="logout",
            now=now(),
            detail=f"{ended} session(s) ended",
        )
    cookie.clear()
    return redirect(url_for("console.login"))


@bp.route("/lang", methods=["POST"])
def set_lang() -> Any:
    chosen = request.form.get("lang")
    if chosen in texts.LANGS:
        cookie["lang"] = chosen
        with transaction() as session:
            user = signed_in(session).user
            if user is not None:
                user.lang = chosen
    back = request.form.get("next") or ""
    if not back.startswith("/console/") or back.startswith("//"):
        back = url_for("console.case_list")
    return redirect(back)
