"""Channels: who hears about a build and when it may move on.

The audiences of the tiers (internal staff, beta organisations, everyone),
the organisations' contacts and their CSV import, the beta programme's
evidence (sign-offs, problem reports), the quarterly push calendar,
schedules and holds, and the promotion gates.

The judging is pure (settings, contacts, audience, calendar, gates: values
in, values out); the ledger is read and written in thin modules of its own
(store, directory, beta, betaview, scheduling, evidence), and the commands live in
commands*.py. Imports releases at most, never notify or notes.
"""
