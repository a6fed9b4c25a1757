"""The scheduled push, run by `tick` when its window opens.

A push is started only inside its window and only through the promotion API with every
gate passing; a window that closed unattended is reported once and never started late,
because a hospice was told the application would be unavailable then and not later.
"""

from __future__ import annotations

from dataclasses import dataclass

from channels.app import ChannelsApp


@dataclass(frozen=True)
class DueAction:
    """One thing `tick` did or found, as the release manager reads it."""

    what: str
    outcome: str  # done, failed, missed (a window closed), waiting (for a person), refused (gates)
    detail: str

    @property
    def failed(self) -> bool:
        return self.outcome in ("failed", "missed")

    def as_dict(self) -> dict[str, str]:
        return {"what": self.what, "outcome": self.outcome, "detail": self.detail}


def run_due_pushes(app: ChannelsApp, is_domain_error: type[BaseException] | tuple[type[BaseException], ...]
                   ) -> list[DueAction]:
    """Start each scheduled push whose window is open; report missed, waiting and refused ones."""
    from channels.store import schedules_in_force
    from releases.artifacts.builds import get_build
    from releases.commands_deploy import promotion_request, run_promotion
    from releases.records.auditlog import record_once
    from releases.tiers.deployments import succeeded_on

    last = app.config.tiers[-1].name
    now = app.clock()
    actions: list[DueAction] = []
    with app.ledger.read() as conn:
        pending = [(s, get_build(conn, s.build_id)) for s in schedules_in_force(conn)
                   if not succeeded_on(conn, s.build_id, last)]
    for schedule, build in pending:
        if build is None or now < schedule.window_start:
            continue
        what = f"push of {build.id} to {last}"
        subject = f"{build.id}:schedule#{schedule.id}"
        if now >= schedule.window_end:
            detail = (f"the window {schedule.window_start:%Y-%m-%d %H:%M}–{schedule.window_end:%H:%M} UTC "
                      "closed before it was done; reschedule it (a missed push is never started late)")
            if record_once(app.ledger, "tick.push-missed", subject, detail):
                actions.append(DueAction(what, "missed", detail))
            continue
        if not app.calendar_rule().auto_push:
            detail = "the window is open; [calendar].auto_push is off, so run `quarterdeck promote` yourself"
            record_once(app.ledger, "tick.push-manual", subject, detail)
            actions.append(DueAction(what, "waiting", detail))
            continue
        failing = [g for g in app.promotion_gates(build, last) if not g.passed]
        if failing:
            detail = "gates refuse: " + "; ".join(f"{g.gate}: {g.detail}" for g in failing)
            record_once(app.ledger, "tick.push-refused", subject, detail)
            actions.append(DueAction(what, "refused", detail))
            continue
        try:
            code = run_promotion(app, promotion_request(app, build, app.config.tier(last)), yes=True)
        except is_domain_error as exc:
            actions.append(DueAction(what, "failed", str(exc)))
            continue
        actions.append(DueAction(what, "done" if not code else "failed",
                                 "installed on every host" if not code else "see the host table above"))
    return actions
