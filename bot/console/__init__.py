"""The staff console: triage, sealed identities, two-way messages, monthly statistics.

Security decisions, next to the code that enforces them:

* every console request but the log-in pages needs a live session: the cookie holds a
  random session id whose hash is a row in ``staff_session``; idle and absolute expiry
  are checked against that row on each request, and the account is re-read. Log-out,
  a password change, disabling the account and a TOTP reset delete every row of the
  account, so a copied cookie stops working at once;
* every state-changing request carries a CSRF token (Flask-WTF), checked here for this
  blueprint only, so LINE's signed webhook ``/callback`` stays exempt; and its ``Origin``
  (or, lacking one, its ``Referer``) must be this site. Flask-WTF's own https Referer
  check is off: it needs a Referer, which privacy settings may strip, while browsers
  always send ``Origin`` on a POST;
* every console response carries a strict Content-Security-Policy (no inline script or
  style at all), ``nosniff``, ``Referrer-Policy: same-origin`` (other sites get no
  referrer; our own forms keep theirs), ``frame-ancestors 'none'``; pages are never
  cached (they hold case content);
* behind ``KRASIP_TRUSTED_PROXIES`` reverse proxies, the client address, scheme and host
  are read from their ``X-Forwarded-*`` headers (ProxyFix), so the log-in throttle sees
  each person's address; with 0 (the default) the headers are ignored;
* in production the session cookie is ``__Host-krasip``, Secure, HttpOnly, SameSite=Lax,
  and every response carries HSTS.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as cookie
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.orm import Session
from werkzeug.middleware.proxy_fix import ProxyFix

from bot.console import texts
from bot.runtime import Runtime
from store import repo
from store import staff as staff_store
from store.models import StaffUser
from store.staff import Throttle

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
csrf = CSRFProtect()

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
# Pages anyone may reach without a session (they handle their own half-logged-in state).
OPEN_ENDPOINTS = {
    "console.login",
    "console.login_totp",
    "console.enrol",
    "console.set_lang",
    "console.static",
}

F = TypeVar("F", bound=Callable[..., Any])


def init_app(app: Flask) -> None:
    """Mount the console on the app (called from ``create_app``)."""
    # CSRF is checked by the console's own before_request, never app-wide: the LINE
    # webhook is authenticated by its signature and must not need a token.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", 8 * 3600)
    # Replaced by the Origin check in _guard (see the module docstring).
    app.config["WTF_CSRF_SSL_STRICT"] = False
    # Flask already defines the cookie keys (SameSite None, Secure False), so setdefault
    # would never apply: set them. Development serves plain http, where Secure would lose
    # the cookie; production is https only and gets a __Host- name (no Domain, path /).
    settings = app.config.get("KRASIP_SETTINGS")
    production = not getattr(settings, "development", False)
    proxies = int(getattr(settings, "trusted_proxies", 0) or 0)
    if proxies > 0:
        # Only the addresses the given number of proxies appended are believed; a client
        # cannot pick its own address by sending X-Forwarded-For itself.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies
        )
    app.config.update(
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=production,
        SESSION_COOKIE_PATH="/",
        SESSION_COOKIE_DOMAIN=None,
    )
    app.config["KRASIP_DEVICE_COOKIE"] = "__Host-krasip-device" if production else "krasip-device"
    if production:
        app.config["SESSION_COOKIE_NAME"] = "__Host-krasip"
        app.config["PREFERRED_URL_SCHEME"] = "https"
        app.after_request(_hsts)
    app.config.setdefault("KRASIP_CONSOLE_IDLE", timedelta(minutes=30))
    app.config.setdefault("KRASIP_CONSOLE_ABSOLUTE", timedelta(hours=12))
    app.config.setdefault("KRASIP_CONSOLE_THROTTLE", Throttle())
    csrf.init_app(app)
    app.register_blueprint(bp)


HSTS = "max-age=31536000"  # a year; not includeSubDomains: other hosts are not ours to pin


def _hsts(response: Any) -> Any:
    """Production only: browsers must never again reach this host over plain http."""
    response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


# --- per-request helpers -------------------------------------------------------------


def runtime() -> Runtime:
    return cast(Runtime, current_app.extensions["krasip"])


def now() -> datetime:
    return runtime().clock()


@contextmanager
def transaction() -> Iterator[Session]:
    with runtime().db.transaction() as session:
        yield session


@dataclass(frozen=True)
class Staff:
    """The signed-in account, as the views need it (no password hash, no TOTP secret)."""

    id: int
    username: str
    display_name: str
    role: str
    lang: str

    @property
    def actor(self) -> str:
        return f"staff:{self.username}"


def current() -> Staff:
    staff = g.get("staff")
    if staff is None:
        abort(401)
    return cast(Staff, staff)


def lang() -> str:
    staff = g.get("staff")
    if staff is not None:
        return cast(str, staff.lang)
    chosen = cookie.get("lang")
    return chosen if chosen in texts.LANGS else "th"


def snapshot(user: StaffUser) -> Staff:
    return Staff(user.id, user.username, user.display_name, user.role, user.lang)


def client_ip() -> str:
    return request.remote_addr or "unknown"


def audit(
    session: Session,
    action: str,
    *,
    case_id: int | None = None,
    detail: str = "",
    actor: str | None = None,
) -> None:
    """Write an audit entry in the caller's transaction. Never put content in ``detail``."""
    repo.audit(
        session,
        actor=actor or current().actor,
        action=action,
        now=now(),
        case_id=case_id,
        detail=detail,
    )


def require_role(*roles: str, audit_action: str | None = None) -> Callable[[F], F]:
    """Refuse (403) any other role; an ``audit_action`` records the refused attempt."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            staff = current()
            if staff.role not in roles:
                if audit_action:
                    with transaction() as session:
                        audit(
                            session,
                            audit_action,
                            case_id=kwargs.get("case_id"),
                            detail=f"refused: role {staff.role}",
                        )
                abort(403)
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorate


def render(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(f"console/{template}", **context), status


def start_session(session: Session, user: StaffUser, at: datetime) -> None:
    lang_chosen = cookie.get("lang")
    cookie.clear()
    if lang_chosen:
        cookie["lang"] = lang_chosen
    cookie["sid"] = staff_store.start_session(session, user, at)
    config = current_app.config
    staff_store.prune_sessions(
        session, at, config["KRASIP_CONSOLE_IDLE"], config["KRASIP_CONSOLE_ABSOLUTE"]
    )


def signed_in(session: Session) -> staff_store.SessionCheck:
    """The account of this request's session cookie (expired and ended ones give none)."""
    token = cookie.get("sid")
    if not isinstance(token, str):
        return staff_store.SessionCheck(None)
    config = current_app.config
    return staff_store.check_session(
        session,
        token,
        now=now(),
        idle=config["KRASIP_CONSOLE_IDLE"],
        absolute=config["KRASIP_CONSOLE_ABSOLUTE"],
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def same_origin_request() -> bool:
    """A state-changing request must come from a page of this site."""
    ours = {f"{request.scheme}://{request.host}".lower()}
    settings = current_app.config.get("KRASIP_SETTINGS")
    public_url = getattr(settings, "public_url", "")
    if public_url:
        ours.add(_origin(public_url))
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin.lower() in ours  # "null" (a sandboxed or stripped origin) is refused
    if request.referrer:
        return _origin(request.referrer) in ours
    # Neither header: not a current browser. Over https (production) refuse; development
    # over plain http relies on the CSRF token alone.
    return not request.is_secure


# --- hooks ---------------------------------------------------------------------------


@bp.before_request
def _guard() -> Any:
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()
        if not same_origin_request():
            return _csrf_error(CSRFError("The request did not come from this site."))
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    if "sid" not in cookie:
        return redirect(url_for("console.login"))
    with transaction() as session:
        found = signed_in(session)
        if found.user is None:
            cookie.clear()
            if found.expired:
                cookie["expired"] = True
            return redirect(url_for("console.login"))
        g.staff = snapshot(found.user)
    return None


@bp.after_request
def _headers(response: Any) -> Any:
    response.headers["Content-Security-Policy"] = response.headers.get(
        "Content-Security-Policy", CSP
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if request.endpoint != "console.static":
        response.headers["Cache-Control"] = "no-store, max-age=0"
        response.headers["Pragma"] = "no-cache"
    return response


@bp.errorhandler(CSRFError)
def _csrf_error(error: CSRFError) -> Any:
    return render("error.html", 400, message=texts.t(lang(), "error.csrf"))


@bp.errorhandler(403)
def _forbidden(error: Any) -> Any:
    return render("error.html", 403, message=texts.t(lang(), "error.forbidden"))


@bp.errorhandler(404)
def _not_found(error: Any) -> Any:
    return render("error.html", 404, message=texts.t(lang(), "error.not_found"))


@bp.context_processor
def _template_helpers() -> dict[str, Any]:
    chosen = lang()
    return {
        "lang": chosen,
        "staff": g.get("staff"),
        "t": lambda key, **kw: texts.t(chosen, key, **kw),
        "label": lambda kind, key: texts.label(chosen, kind, key),
        "when": lambda value: texts.show_datetime(chosen, value),
        "day": lambda value: texts.show_date(chosen, value),
    }


from bot.console import (  # noqa: E402, F401 - views register on bp
    accounts,
    auth,
    cases,
    delivery,
    linking,
    reports,
)
