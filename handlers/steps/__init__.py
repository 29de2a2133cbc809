"""The report conversation, one module per step or small group of steps (pure, no I/O).

:mod:`handlers.engine` routes each event; :mod:`handlers.steps.flow` dispatches form
events by step kind. Module map:

- ``state``: the state's shape, language, ``keep_until``
- ``quick``: typed-command matching, shared quick replies
- ``turn``: the :class:`~handlers.steps.turn.Turn`, form navigation, length/media checks
- ``commands``: report/status/cancel/stop/language, restart question, greeting, help, idle
- ``lookup``: token lookup, wrong-token delays, the status card
- ``followup``: sending more to the centre after a lookup
- ``start``: starting a report (draft id)
- ``choice``: choice steps (language, intro, identity, category, agency kind, …) and
  skip/done/clear on text steps
- ``typed``: free-text answers with validators (contact) and the date step
- ``agency``: the district step
- ``evidence``: description and evidence
- ``review``: the review card and submission
- ``flow``: the dispatcher (step kind → handler, prompts)
"""
