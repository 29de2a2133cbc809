"""The centre's vocabulary (DOMAIN.md), one definition for the bot, the console and the store."""

from __future__ import annotations

# The categories the product offers (DOMAIN.md, "What people complain about").
CATEGORIES: tuple[str, ...] = (
    "procurement",
    "public_works",
    "city_law",
    "environment",
    "registration",
    "money",
    "assets",
    "personnel",
    "other",
)

# The real process (seed 000): received → preliminary fact check → secret fact-finding →
# the Operation Center's consideration → closed with one of the published outcomes.
CASE_STATUSES: tuple[str, ...] = (
    "received",
    "preliminary_review",
    "fact_finding",
    "under_consideration",
    "closed",
)
CASE_OUTCOMES: tuple[str, ...] = (
    "completed",
    "forwarded_agency",
    "forwarded_working_group",
    "referred_nacc",
    "referred_pacc",
    "no_grounds",
)

# Where complaints arrive (seed 003, section 7); the LINE bot is one more channel.
CHANNELS: tuple[str, ...] = (
    "line",
    "hotline_1555",
    "letter",
    "email",
    "walk_in",
    "website",
    "traffy_fondue",
    "executives",
)
