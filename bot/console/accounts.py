"""Accounts: admins add, disable and reset the two-factor of accounts; everyone changes
their own password. Every change is audited; disabling, a TOTP reset and a password
change end every session of the account at once (issue 13 findings 4 and 5)."""

from __future__ import annotations

import secrets
from typing import Any

from flask import abort, current_app, g, redirect, request, url_for
from flask import session as cookie

from bot.console import (
    audit,
    bp,
    client_ip,
    current,
    lang,
    now,
    render,
    require_role,
    texts,
    transaction,
)
from store import staff
from store.models import StaffUser


def _users_page(status: int = 200, **context: Any) -> Any:
    with transaction() as session:
        accounts = staff.list_users(session)
    return render("users.html", status, accounts=accounts, roles=staff.ROLES, **context)


@bp.route("/admin/users", methods=["GET", "POST"])
@require_role("admin", audit_action="admin.denied")
def users() -> Any:
    if request.method == "GET":
        return _users_page()
    role = request.form.get("role") or ""
    # A generated password: admins never choose (or learn to reuse) a colleague's.
    password = secrets.token_urlsafe(12)
    try:
        with transaction() as session:
            user = staff.create_user(
                session,
                username=request.form.get("username") or "",
                display_name=request.form.get("display_name") or "",
                role=role,
                password=password,
                now=now(),
                lang=lang(),
            )
            username = user.username
            audit(session, "staff.add", detail=f"{username} as {role}")
    except staff.StaffError:
        return _users_page(400, error=texts.t(lang(), "users.add_failed"))
    return _users_page(
        notice=texts.t(lang(), "users.added", username=username), new_password=password
    )


def _account(session: Any, user_id: int) -> StaffUser:
    user = session.get(StaffUser, user_id)
    if user is None:
        abort(404)
    return user


@bp.route("/admin/users/<int:user_id>/disable", methods=["POST"])
@require_role("admin", audit_action="admin.denied")
def disable_account(user_id: int) -> Any:
    if user_id == current().id:
        return _users_page(400, error=texts.t(lang(), "users.not_self"))
    with transaction() as session:
        user = _account(session, user_id)
        staff.disable_user(session, user.username)
        username = user.username
        audit(session, "staff.disable", detail=username)
    return _users_page(notice=texts.t(lang(), "users.disabled", username=username))


@bp.route("/admin/users/<int:user_id>/reset-totp", methods=["POST"])
@require_role("admin", audit_action="admin.denied")
def reset_totp(user_id: int) -> Any:
    with transaction() as session:
        user = _account(session, user_id)
        staff.reset_totp(session, user)
        username = user.username
        audit(session, "staff.totp_reset", detail=username)
    if user_id == current().id:
        cookie.clear()
        return redirect(url_for("console.login"))
    return _users_page(notice=texts.t(lang(), "users.totp_reset", username=username))


@bp.route("/account/password", methods=["GET", "POST"])
def change_password() -> Any:
    if request.method == "GET":
        return render("password.html")
    chosen = lang()
    me = current()
    new = request.form.get("new_password") or ""
    with transaction() as session:
        user = _account(session, me.id)
        wait = staff.login_wait(
            session,
            username=user.username,
            ip=client_ip(),
            now=now(),
            throttle=current_app.config["KRASIP_CONSOLE_THROTTLE"],
        )
        if wait > 0:
            error = texts.t(chosen, "login.wait", seconds=int(wait) + 1)
            return render("password.html", 429, error=error)
        if not staff.check_password(user, request.form.get("current_password") or ""):
            # Counted like a failed log-in: a stolen session must not guess the password.
            staff.record_login_attempt(
                session, username=user.username, ip=client_ip(), success=False, now=now()
            )
            audit(session, "staff.password_failed", detail=user.username)
            return render("password.html", 401, error=texts.t(chosen, "password.wrong"))
        if new != (request.form.get("new_password_again") or ""):
            return render("password.html", 400, error=texts.t(chosen, "password.mismatch"))
        try:
            staff.set_password(session, user, new)
        except staff.StaffError:
            return render("password.html", 400, error=texts.t(chosen, "password.short"))
        audit(session, "staff.password", detail=user.username)
    cookie.clear()
    cookie["lang"] = chosen
    g.pop("staff", None)  # signed out: the page shows no menu
    return render("login.html", notice=texts.t(chosen, "password.changed"))
