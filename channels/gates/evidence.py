"""The facts a promotion's gates judge, gathered from the ledger; and the verdict for a tier.

`gates`, `promote` and the tests all go through `promotion_gates`, so they
see the same verdict for the same ledger and clock. The pure judging is
channels.gates.gates; this module only reads.

Build order (for "a problem applies to later builds until resolved") is the
order builds were made in: created_at, then version and build number for
builds made in the same instant. A hotfix built after next quarter's build
is later, because it was made later from what was known then.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection

from channels.app import ChannelsApp
from channels.errors import ChannelsError
from channels.gates import betaview
from channels.gates.beta import all_problems, signoffs_for
from channels.gates.gates import GateFacts, GateResult, GateSettings, Hold, ScheduledPush, evaluate
from channels.store import CANCELLED, active_hold, current_schedule
from releases.app import ProjectSettings
from releases.records.reads import rows_of
from releases.tiers.deployments import first_success_at


def build_order(conn: Connection) -> dict[str, int]:
    """Every build's place in build order, 1 for the first build made."""
    return betaview.build_order(rows_of(conn))


def tier_before(tiers: Sequence[Any], tier_name: str) -> str | None:
    """The tier a build must have completed before entering `tier_name` (None for the first)."""
    names = [tier.name for tier in tiers]
    if tier_name not in names:
        raise ChannelsError(f"there is no tier {tier_name!r}", hint=f"tiers are: {', '.join(names)}")
    index = names.index(tier_name)
    return names[index - 1] if index else None


def tier_after(tiers: Sequence[Any], tier_name: str) -> str | None:
    """The tier a build goes to after `tier_name` (None for the last): the beta tier's is the push."""
    names = [tier.name for tier in tiers]
    index = names.index(tier_name)
    return names[index + 1] if index + 1 < len(names) else None


def beta_tier(config: ProjectSettings) -> str:
    """The tier whose audience is the beta channel: where builds are signed off."""
    tier = config.tier_serving("beta")
    if tier is not None:
        return tier.name
    raise ChannelsError("no tier has channel = \"beta\", so nothing can be signed off",
                        hint="set channel = \"beta\" on the staging tier in the configuration")


def gather_facts(app: ChannelsApp, conn: Connection, build_id: str, tier_name: str,
                 extra: Iterable[GateResult] = ()) -> GateFacts:
    """Everything the gates of `tier_name` judge about the build, as of the app's clock."""
    before = tier_before(app.config.tiers, tier_name)
    order = build_order(conn)
    if build_id not in order:
        raise ChannelsError(f"no build {build_id!r} in the ledger")
    schedule = current_schedule(conn, build_id)
    hold = active_hold(conn, build_id)
    timezone = app.config.timezone
    return GateFacts(
        build=build_id, build_seq=order[build_id], now=app.clock(), timezone=timezone,
        staged_at=first_success_at(conn, build_id, before) if before else None,
        signoffs=tuple(signoffs_for(conn, build_id)),
        problems=tuple(p.for_gates(order) for p in all_problems(conn)),
        schedule=(ScheduledPush(schedule.window_start, schedule.window_end, timezone,
                                cancelled=schedule.state == CANCELLED) if schedule else None),
        hold=Hold(hold.reason, hold.held_by, hold.held_at) if hold else None,
        extra=tuple(extra),
    )


def promotion_gates(app: ChannelsApp, build: Any, tier_name: str,
                    extra: Iterable[GateResult] = ()) -> list[GateResult]:
    """Every gate the build must pass to enter `tier_name`, in order, with the facts behind each.

    `build` is a releases Build (or its id). The first tier has nothing before
    it to soak on or be signed off in, so only the hold gate (and `extra`)
    apply there; every other tier runs its configured gates. `extra` is for
    gates evaluated elsewhere (the notice gates), reported after these.
    """
    build_id = build if isinstance(build, str) else build.id
    first = tier_before(app.config.tiers, tier_name) is None
    settings = GateSettings() if first else app.gate_settings(tier_name)
    with app.ledger.read() as conn:
        facts = gather_facts(app, conn, build_id, tier_name, extra)
    return evaluate(settings, facts)
