"""Krasip's benchmark: complete conversations against the bot and a bare SDK echo bot.

Run ``python -m bench --help``; README's performance section explains the figures.
"""
