"""`python -m bot …` is `krasip …`: the deploy path installs the locked requirements only."""

from bot.cli import main

main(prog_name="krasip")
