"""Channels: who hears about a build and when it may move on.

The audiences of the tiers (internal staff, beta organisations, everyone),
the organisations' contacts and their CSV import, the quarterly push
calendar, and the promotion gates. Everything here is pure: values in,
values out; the pipeline reads the ledger and the clock and hands them in.
Imports releases at most, never notify or notes.
"""
