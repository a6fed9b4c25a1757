"""Pure rules of delivery: reply classification and the rate limiter."""

from __future__ import annotations

import pytest

from notify.sending.transport import Delivery, Outcome, Phase, RateLimiter, classify_reply


@pytest.mark.parametrize(("code", "phase", "delivery"), [
    (250, Phase.END_OF_DATA, Delivery.SENT),
    (251, Phase.END_OF_DATA, Delivery.SENT),
    (550, Phase.RCPT, Delivery.FAILED),
    (552, Phase.END_OF_DATA, Delivery.FAILED),
    (553, Phase.MAIL, Delivery.FAILED),
    (451, Phase.RCPT, Delivery.TEMP_FAILED),
    (452, Phase.END_OF_DATA, Delivery.TEMP_FAILED),
    (354, Phase.MAIL, Delivery.TEMP_FAILED),      # out of protocol: nothing was accepted
    (250, Phase.DATA, Delivery.TEMP_FAILED),      # 2xx to DATA (instead of 354) is no delivery
    (-1, Phase.RCPT, Delivery.TEMP_FAILED),       # smtplib's code for an unreadable reply
])
def test_classify_reply(code: int, phase: Phase, delivery: Delivery) -> None:
    outcome = classify_reply(code, "text", phase)
    assert (outcome.delivery, outcome.code, outcome.phase) == (delivery, code, phase)
    assert outcome.retriable is (delivery is Delivery.TEMP_FAILED)


def test_outcome_descriptions() -> None:
    assert classify_reply(550, "5.1.1 no such user", Phase.RCPT).describe() == \
        "failed at rcpt: 550 5.1.1 no such user"
    unknown = Outcome(Delivery.UNKNOWN, Phase.END_OF_DATA, None, "connection lost")
    assert unknown.reply == "connection lost"
    assert unknown.describe() == "unknown at end-of-data: connection lost"
    assert {d.value for d in Delivery} == {"sent", "temp-failed", "failed", "unknown"}


def test_rate_limiter_spaces_evenly_and_does_not_bank_idle_time() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(2, monotonic=lambda: now[0], sleep=sleep)
    assert [limiter.wait() for _ in range(3)] == [0.0, 0.5, 0.5]
    now[0] += 10  # idle for a while: no burst allowance builds up…
    assert limiter.wait() == 0.0
    assert limiter.wait() == 0.5  # …the next one is spaced again
    assert slept == [0.5, 0.5, 0.5]


def test_rate_limiter_off() -> None:
    limiter = RateLimiter(0, monotonic=lambda: 0.0, sleep=lambda s: pytest.fail("must not sleep"))
    assert [limiter.wait() for _ in range(5)] == [0.0] * 5
