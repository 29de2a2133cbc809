"""Log-in, roles, CSRF, headers, throttling: the console's locks, through the test client."""

from __future__ import annotations

from consolekit import PASSWORD, file_case

from store import repo
from store.models import AuditEntry


def actions(bot) -> list[str]:
    with bot.runtime.db.transaction() as session:
        return [e.action for e in session.query(AuditEntry).order_by(AuditEntry.id)]


def test_console_pages_need_a_log_in(console) -> None:
    response = console.get("/console/cases")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/console/login")


def test_staff_logs_in_with_password_and_sees_the_register(bot, console, make_account) -> None:
    account = make_account("somsri")
    console.login(account)
    page = console.get("/console/cases")
    assert page.status_code == 200
    assert "ทะเบียนเรื่องร้องเรียน" in page.get_data(as_text=True)
    assert "login" in actions(bot)


def test_admin_needs_the_totp_code_not_just_the_password(bot, console, make_account) -> None:
    admin = make_account("anong", "admin")
    console.get("/console/login")
    response = console.post("/console/login", {"username": "anong", "password": PASSWORD})
    assert response.headers["Location"].endswith("/console/login/totp")
    assert console.get("/console/cases").status_code == 302  # not in yet
    console.get("/console/login/totp")
    wrong = console.post("/console/login/totp", {"code": "000000"})
    assert wrong.status_code == 401
    bot.runtime.clock.advance(seconds=30)
    right = console.post("/console/login/totp", {"code": admin.code(bot.runtime.clock())})
    assert right.status_code == 302
    assert console.get("/console/cases").status_code == 200


def test_a_totp_code_is_accepted_only_once(bot, console, make_account) -> None:
    admin = make_account("anong", "admin")
    console.login(admin)
    # The very code the admin was let in with (the clock is real time: a code taken from it
    # again here could fall in the next 30-s step, which nobody has used yet).
    code = console.last_code
    assert code is not None
    other = type(console)(bot)
    other.get("/console/login")
    other.post("/console/login", {"username": "anong", "password": PASSWORD})
    other.get("/console/login/totp")
    assert other.post("/console/login/totp", {"code": code}).status_code == 401


def test_wrong_passwords_slow_the_account_but_the_right_one_gets_in_after_the_wait(
    bot, console, make_account
) -> None:
    account = make_account("somsri")
    console.get("/console/login")
    for _ in range(5):
        response = console.post("/console/login", {"username": "somsri", "password": "nope"})
        assert response.status_code == 401
    early = console.post("/console/login", {"username": "somsri", "password": PASSWORD})
    assert early.status_code == 429
    wait = int(early.headers["Retry-After"])
    assert 1 <= wait <= 15 * 60
    bot.runtime.clock.advance(seconds=wait)
    console.login(account)
    assert console.get("/console/cases").status_code == 200


def test_made_up_usernames_slow_only_made_up_usernames(bot, console, make_account) -> None:
    account = make_account("somsri")
    console.get("/console/login")
    for n in range(20):
        response = console.post("/console/login", {"username": f"guess{n}", "password": "nope"})
        assert response.status_code == 401
    slowed = console.post("/console/login", {"username": "guess99", "password": "nope"})
    assert slowed.status_code == 429
    console.login(account)  # the same address, a real account: not held up at all
    assert console.get("/console/cases").status_code == 200


def test_sessions_expire_when_idle(bot, console, make_account) -> None:
    console.login(make_account("somsri"))
    assert console.get("/console/cases").status_code == 200
    bot.runtime.clock.advance(minutes=31)
    assert console.get("/console/cases").status_code == 302


def test_sessions_expire_after_twelve_hours_however_busy(bot, console, make_account) -> None:
    console.login(make_account("somsri"))
    for _ in range(24):  # 24 × 29 min = 11 h 36 min
        bot.runtime.clock.advance(minutes=29)
        assert console.get("/console/cases").status_code == 200
    bot.runtime.clock.advance(minutes=29)
    assert console.get("/console/cases").status_code == 302


def test_a_disabled_account_is_out_at_once(bot, console, make_account) -> None:
    from store import staff

    console.login(make_account("somsri"))
    with bot.runtime.db.transaction() as session:
        staff.disable_user(session, "somsri")
    assert console.get("/console/cases").status_code == 302


def test_forms_without_a_csrf_token_are_refused(bot, console, make_account) -> None:
    case_id, _, _ = file_case(bot)
    console.login(make_account("somsri"))
    response = console.client.post(f"/console/cases/{case_id}/notes", data={"body": "x"})
    assert response.status_code == 400
    forged = console.client.post(
        f"/console/cases/{case_id}/notes", data={"body": "x", "csrf_token": "forged"}
    )
    assert forged.status_code == 400
    assert console.post(f"/console/cases/{case_id}/notes", {"body": "x"}).status_code == 302


def test_the_log_in_form_needs_a_csrf_token_too(console, make_account) -> None:
    make_account("somsri")
    response = console.client.post(
        "/console/login", data={"username": "somsri", "password": PASSWORD}
    )
    assert response.status_code == 400


def test_the_line_webhook_stays_free_of_csrf(bot, chat) -> None:
    replies = chat.say("สถานะ")
    assert chat.status == 200 and replies


def test_console_responses_carry_strict_security_headers(console, make_account) -> None:
    console.login(make_account("somsri"))
    response = console.get("/console/cases")
    csp = response.headers["Content-Security-Policy"]
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ):
        assert directive in csp
    # Same-origin: our own forms keep their Referer (CSRF over https); other sites get none.
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response.headers["Cache-Control"]
    assert "<script" not in response.get_data(as_text=True)
    assert " style=" not in response.get_data(as_text=True)


def test_staff_cannot_reach_admin_pages_by_url(bot, console, make_account) -> None:
    console.login(make_account("somsri"))
    assert console.get("/console/admin/audit").status_code == 403
    assert console.get("/console/admin/users").status_code == 403
    assert actions(bot).count("admin.denied") == 2


def test_staff_and_admin_cannot_open_an_identity_by_url(bot, console, make_account, keys) -> None:
    case_id, _, _ = file_case(bot, identity={"name": "นางสาวลับ ปกปิด"})
    for account in (make_account("somsri"), make_account("anong", "admin")):
        console.login(account)
        response = console.post(
            f"/console/cases/{case_id}/identity",
            {
                "reason": "checking the complainant's account",
                "passphrase": keys.passphrase,
                "key_file": (keys.private_key_file.open("rb"), "identity_private.json"),
            },
            content_type="multipart/form-data",
        )
        assert response.status_code == 403
        assert "นางสาวลับ" not in response.get_data(as_text=True)
    with bot.runtime.db.transaction() as session:
        denied = [e for e in session.query(AuditEntry) if e.action == "identity.denied"]
        assert [e.actor for e in denied] == ["staff:somsri", "staff:anong"]
        assert not repo.verify_audit(session)
