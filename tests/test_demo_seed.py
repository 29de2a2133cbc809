"""`krasip demo seed`: synthetic cases that look and are stored like real ones."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from bot.cli import demo_vocabulary, main
from bot.runtime import utc_now
from handlers.form import CATEGORIES
from handlers.model import CASE_OUTCOMES, CASE_STATUSES
from store import migrate, repo
from store.crypto import IdentityPrivateKey
from store.db import Database
from store.demo import CHANNELS, seed_cases
from store.models import Case, CaseEvent
from tests.conftest import Keys

THAI = re.compile(r"[\u0e00-\u0e7f]")


def _environment(tmp_path: Path, database_url: str, keys: Keys, env: str) -> dict[str, str]:
    return {
        "KRASIP_ENV": env,
        "KRASIP_INSTANCE": str(tmp_path / "instance"),
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key",
        "LINE_CHANNEL_SECRET": "test-channel-secret",
        "LINE_CHANNEL_ACCESS_TOKEN": "test-access-token",
        "KRASIP_IDENTITY_PUBLIC_KEY": keys.material.identity_public,
        "KRASIP_DATA_KEYS": keys.material.data_keys,
        "KRASIP_LOOKUP_PEPPER": keys.material.pepper,
        "KRASIP_AUDIT_KEY": keys.material.audit_key,
        "KRASIP_AUDIT_SIGNING_KEY": keys.material.audit_signing_key,
    }


def test_demo_seed_fills_the_register_with_cases_spread_like_real_ones(
    tmp_path: Path, database_url: str, keys: Keys
) -> None:
    result = CliRunner().invoke(
        main,
        ["demo", "seed", "--cases", "300", "--seed", "7", "--batch-size", "64"],
        env=_environment(tmp_path, database_url, keys, "development"),
    )
    assert result.exit_code == 0, result.output
    assert "300 synthetic cases added" in result.output

    database = Database(database_url)
    keyring = keys.material.keyring()
    now = utc_now()
    try:
        with database.transaction() as session:
            cases = session.scalars(select(Case)).all()
            assert len(cases) == 300
            assert set(Counter(c.channel for c in cases)) == set(CHANNELS)
            assert set(Counter(c.category for c in cases)) == set(CATEGORIES)
            assert len({c.district_code for c in cases if c.district_code}) >= 40
            statuses = Counter(c.status for c in cases)
            assert set(statuses) == set(CASE_STATUSES)
            assert statuses["closed"] < 300
            assert {c.outcome for c in cases if c.status == "closed"} == set(CASE_OUTCOMES)
            assert all(c.outcome is None for c in cases if c.status != "closed")
            assert all(now - timedelta(days=731) <= c.filed_at <= now for c in cases)
            assert max(c.filed_at for c in cases) - min(c.filed_at for c in cases) > timedelta(
                days=600
            ), "filed over the last two years"
            assert all(c.filed_at <= c.updated_at <= now for c in cases)
            assert len({c.number for c in cases}) == 300
            assert len({c.token_hash for c in cases}) == 300
            anonymous = [c for c in cases if c.anonymous]
            assert 0 < len(anonymous) < 300
            # Numbers rise with the filing date within a year, as if filed one by one.
            by_time = sorted(cases, key=lambda c: (c.filed_at, c.id))
            for year in {c.filed_at.year for c in cases}:
                numbers = [c.number for c in by_time if c.filed_at.year == year]
                assert numbers == sorted(numbers)
                assert all(n.startswith(f"KRS-{year}-") for n in numbers)

            for case in cases:
                content = repo.case_content(session, keyring, case.id)
                assert content["category"] == case.category
                assert THAI.search(content["description"])
                assert (content["agency"].get("district_code")) == case.district_code
                assert (case.identity_sealed is None) == case.anonymous
            events = session.scalar(select(func.count()).select_from(CaseEvent))
            assert events is not None and events >= 300
            closed = next(c for c in cases if c.status == "closed")
            timeline = session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == closed.id).order_by(CaseEvent.at)
            ).all()
            assert timeline[0].kind == "filed" and timeline[-1].status == "closed"
            assert timeline[-1].outcome == closed.outcome

        custodian = IdentityPrivateKey.from_encrypted_file(
            keys.private_key_file.read_bytes(), keys.passphrase
        )
        confidential = next(c for c in cases if not c.anonymous)
        held = repo.sealed_identity(keyring, confidential)
        assert held is not None
        identity = custodian.open(held.sealed, held.case_number, draft=held.draft)
        assert THAI.search(identity["name"]) and identity["contact"].startswith("08")
    finally:
        database.dispose()


def test_seeded_cases_are_found_by_their_tokens(database_url: str, keys: Keys) -> None:
    migrate.upgrade(database_url)
    database = Database(database_url)
    keyring = keys.material.keyring()
    try:
        summary = seed_cases(
            database, keyring, demo_vocabulary(), count=120, now=utc_now(), seed=3, keep_tokens=10
        )
        assert summary.cases == 120 and sum(summary.by_channel.values()) == 120
        assert len(summary.sample_tokens) >= 10
        with database.transaction() as session:
            found = {
                case.id
                for token in summary.sample_tokens
                if (case := repo.find_case_by_token(session, keyring, token)) is not None
            }
            assert len(found) == len(summary.sample_tokens)
            assert repo.find_case_by_token(session, keyring, "7KQ2-M9XD-4FRA-8PZT") is None
    finally:
        database.dispose()


def test_demo_seed_refuses_a_production_register(
    tmp_path: Path, database_url: str, keys: Keys
) -> None:
    migrate.upgrade(database_url)
    result = CliRunner().invoke(
        main,
        ["demo", "seed", "--cases", "5"],
        env=_environment(tmp_path, database_url, keys, "production"),
    )
    assert result.exit_code != 0
    assert "development only" in result.output
    database = Database(database_url)
    try:
        with database.transaction() as session:
            assert session.scalar(select(func.count()).select_from(Case)) == 0
    finally:
        database.dispose()
