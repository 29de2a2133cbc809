"""Log-in: Argon2id password, then TOTP (required for admin and custodian), throttled.

Failures are counted in the database per account and per address (``store.staff``), so
several gunicorn workers share one count. A locked account gets the same answer whether
the password was right or not, and an unknown username costs the same time as a known one.
"""

from __future__ import annotations

from typing import Any

import qrcode
import qrcode.image.svg
from flask import current_app, redirect, request, url_for
from flask import session as cookie
from markupsafe import Markup
from sqlalchemy.orm import Session

from bot.console import (
    bp,
    client_ip,
    now,
    render,
    runtime,
    start_session,
    texts,
    transaction,
)
from bot.console import lang as current_lang
from store import repo, staff
from store.models import StaffUser

PENDING_SECONDS = 300  # between a right password and the TOTP code


def _audit(session: Session, action: str, username: str, detail: str = "") -> None:
    repo.audit(session, actor=f"staff:{username[:64]}", action=action, now=now(), detail=detail)


def _pending(session: Session) -> StaffUser | None:
    uid, at = cookie.get("pending_uid"), cookie.get("pending_at")
    if uid is None or at is None or now().timestamp() - float(at) > PENDING_SECONDS:
        return None
    user = session.get(StaffUser, int(uid))
    return user if user is not None and user.active else None


def _locked(session: Session, username: str) -> bool:
    return staff.locked_out(
        session,
        username=username,
        ip=client_ip(),
        now=now(),
        throttle=current_app.config["KRASIP_CONSOLE_THROTTLE"],
    )


def _fail(session: Session, username: str, detail: str) -> None:
    staff.record_login_attempt(session, username=username, ip=client_ip(), success=False, now=now())
    _audit(session, "login.failed", username, f"{detail}; ip {client_ip()}")


def _succeed(session: Session, user: StaffUser, detail: str) -> Any:
    at = now()
    staff.record_login_attempt(
        session, username=user.username, ip=client_ip(), success=True, now=at
    )
    user.last_login_at = at
    _audit(session, "login", user.username, f"{detail}; ip {client_ip()}")
    start_session(user, at)
    return redirect(url_for("console.case_list"))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    lang = current_lang()
    if request.method == "GET":
        expired = bool(cookie.pop("expired", False))
        return render("login.html", notice=texts.t(lang, "login.expired") if expired else None)
    username = (request.form.get("username") or "").strip().lower()[:64]
    password = request.form.get("password") or ""
    with transaction() as session:
        if _locked(session, username):
            _audit(session, "login.locked", username, f"ip {client_ip()}")
            return render("login.html", 429, error=texts.t(lang, "login.locked"))
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
        cookie.clear()
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
        if _locked(session, user.username):
            _audit(session, "login.locked", user.username, f"ip {client_ip()}")
            cookie.clear()
            return render("login.html", 429, error=texts.t(lang, "login.locked"))
        if not staff.check_totp(runtime().keys, user, request.form.get("code") or "", now()):
            _fail(session, user.username, "wrong TOTP code")
            return render("totp.html", 401, error=texts.t(lang, "totp.failed"))
        return _succeed(session, user, "password and TOTP")


@bp.route("/login/enrol", methods=["GET", "POST"])
def enrol() -> Any:
    """First log-in of an account without a TOTP secret: show a new one as a QR code."""
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
        if not staff.check_totp(keys, user, request.form.get("code") or "", now()):
            _fail(session, user.username, "wrong TOTP code at enrolment")
            return _enrol_page(secret_or_none, user.username, texts.t(lang, "totp.failed"), 401)
        _audit(session, "totp.enrolled", user.username)
        return _succeed(session, user, "password and TOTP (enrolment)")


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
    from bot.console import current

    with transaction() as session:
        repo.audit(session, actor=current().actor, action="logout", now=now())
    cookie.clear()
    return redirect(url_for("console.login"))


@bp.route("/lang", methods=["POST"])
def set_lang() -> Any:
    chosen = request.form.get("lang")
    if chosen in texts.LANGS:
        cookie["lang"] = chosen
        uid = cookie.get("uid")
        if uid is not None:
            with transaction() as session:
                user = session.get(StaffUser, int(uid))
                if user is not None:
                    user.lang = chosen
    back = request.form.get("next") or ""
    if not back.startswith("/console/") or back.startswith("//"):
        back = url_for("console.case_list")
    return redirect(back)
