"""Notice gates: production waits for an early, complete advance notice with the approved notes."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from channels.gates.gates import GateFacts, GateResult, GateSettings, all_passed
from channels.gates.gates import evaluate as evaluate_channels
from notify.gates import ADVANCE_GATE, CANCELLED_GATE, NOTES_GATE, evaluate, gather_facts, notice_gates
from notify.notices import confirm, send_notice
from tests.notify.factories import PASSWORD_ENV, settings_for
from tests.notify.test_delivery_support import (
    RULE,
    WINDOW_START,
    ZONE,
    BuildValue,
    Clock,
    Notes,
    add_people,
    add_schedule,
    cancel_schedule,
    make_env,
    open_ledger,
    people,
)
from tests.support.smtp import SMTP_PASSWORD, Fault, SmtpServer

pytestmark = pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")
BUILD = BuildValue()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def world(ledger_url: str, clock: Clock, smtp_server: SmtpServer,  # type: ignore[no-untyped-def]
          monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(PASSWORD_ENV, SMTP_PASSWORD)
    ledger = open_ledger(ledger_url, clock)
    add_people(ledger, people(4))
    notes = Notes()
    app = SimpleNamespace(ledger=ledger, calendar_rule=lambda: RULE, notice_notes=notes)
    yield app, make_env(ledger, settings_for(smtp_server), notes), notes
    ledger.close()


def verdicts(app: SimpleNamespace) -> dict[str, tuple[bool, str]]:
    results = notice_gates(app, BUILD)
    assert all(isinstance(r, GateResult) for r in results)
    return {r.gate: (r.passed, r.detail) for r in results}


def test_refused_until_the_advance_notice_was_delivered_early_enough(world, clock: Clock,  # type: ignore[no-untyped-def]
                                                                    smtp_server: SmtpServer) -> None:
    app, env, _notes = world
    before = verdicts(app)
    assert before[ADVANCE_GATE] == (False, "no push is scheduled for 2026.4.0+b3, so no advance notice can "
                                           "announce it")
    add_schedule(app.ledger, BUILD.id)
    assert verdicts(app)[ADVANCE_GATE] == (False, "no advance notice announced the window "
                                                  "2026-11-14 22:00–02:00 next day America/Chicago")
    assert verdicts(app)[NOTES_GATE][0] is False

    smtp_server.handler.schedule(Fault.DROP_AFTER_CONTENT, 2)
    clock.now = WINDOW_START - timedelta(days=20)
    send_notice(env, "advance", BUILD)
    passed, detail = verdicts(app)[ADVANCE_GATE]
    assert not passed and detail == ("the advance notice reached 3 of 4 recipients (1 not: 1 unknown); every "
                                     "recipient must have it")
    clock.now = WINDOW_START - timedelta(days=13)  # a person confirms it arrived, too late to count as early
    confirm(env, "advance", BUILD, "user2@example.org", delivered=True)
    passed, detail = verdicts(app)[ADVANCE_GATE]
    assert passed, "confirmed delivered: counted at the time it was sent, 20 days before"
    assert detail == ("the advance notice reached all 4 recipients by 2026-10-25 23:00 America/Chicago, "
                      "20 days before the window 2026-11-14 22:00–02:00 next day America/Chicago "
                      "(needs 14 days)")
    assert all(passed for passed, _ in verdicts(app).values())


def test_a_late_advance_notice_fails_with_the_numbers(world, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    app, env, _notes = world
    add_schedule(app.ledger, BUILD.id)
    clock.now = WINDOW_START - timedelta(days=10, hours=3)
    send_notice(env, "advance", BUILD)
    passed, detail = verdicts(app)[ADVANCE_GATE]
    assert not passed
    assert detail.endswith("10 days 3 hours before the window 2026-11-14 22:00–02:00 next day "
                           "America/Chicago; needs 14 days (by 2026-10-31 22:00 America/Chicago)")


def test_refused_again_after_the_notes_changed(world, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    app, env, notes = world
    add_schedule(app.ledger, BUILD.id)
    send_notice(env, "advance", BUILD)
    assert all(passed for passed, _ in verdicts(app).values())
    notes.markdown += "* Late fix for the drug chart (#77)\n"
    passed, detail = verdicts(app)[NOTES_GATE]
    assert not passed and "the users have not seen them" in detail and "--again" in detail
    notes.approved = False
    assert "not approved" in verdicts(app)[NOTES_GATE][1]
    notes.approved = True
    clock.advance(hours=1)
    send_notice(env, "advance", BUILD, again=True)
    result = verdicts(app)
    assert result[NOTES_GATE][0] and "generation 2" in result[NOTES_GATE][1]
    assert result[ADVANCE_GATE][0], "still 4 weeks ahead"


def test_refused_after_a_cancellation_until_a_new_window_is_announced(world, clock: Clock  # type: ignore[no-untyped-def]
                                                                      ) -> None:
    app, env, _notes = world
    add_schedule(app.ledger, BUILD.id)
    send_notice(env, "advance", BUILD)
    cancel_schedule(app.ledger, BUILD.id, "blocker found")
    assert verdicts(app)[CANCELLED_GATE] == (False, "the push of 2026.4.0+b3 is cancelled")
    clock.advance(hours=2)
    send_notice(env, "cancelled", BUILD)
    passed, detail = verdicts(app)[CANCELLED_GATE]
    assert not passed and detail.startswith("a cancelled notice went out on 2026-10-16 12:00 America/Chicago")
    add_schedule(app.ledger, BUILD.id, WINDOW_START + timedelta(days=28))
    result = verdicts(app)
    assert not result[CANCELLED_GATE][0], "the new window has not been announced yet"
    assert not result[ADVANCE_GATE][0]
    send_notice(env, "advance", BUILD)
    assert all(passed for passed, _ in verdicts(app).values())


def test_the_results_join_the_channels_gates_as_extras(world) -> None:  # type: ignore[no-untyped-def]
    app, _env, notes = world
    add_schedule(app.ledger, BUILD.id)
    with app.ledger.read() as conn:
        facts = gather_facts(conn, BUILD.id, rule=RULE, approved_sha256=notes(BUILD, "production").sha256)
    extra = tuple(evaluate(facts))
    channel_facts = GateFacts(build=BUILD.id, build_seq=3, now=app.ledger.clock(), timezone=ZONE, extra=extra)
    results = evaluate_channels(GateSettings(min_soak=None, min_signoffs=0, no_open_blockers=False,
                                             require_window=False), channel_facts)
    assert [r.gate for r in results] == ["hold", ADVANCE_GATE, NOTES_GATE, CANCELLED_GATE]
    assert not all_passed(results)
