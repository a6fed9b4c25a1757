"""Who is in each channel: pure functions of the contacts and the enrolled beta organisations.

A channel is the audience of a tier. `internal` is the vendor's staff (dev),
`beta` adds every contact of the organisations enrolled in the beta
programme (staging), `everyone` is every contact (production). Computed on
demand from the ledger's current enrollment, never stored, so enrolling or
leaving takes effect for the very next notice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from channels.audience.contacts import Contact
from channels.errors import ChannelsError
from channels.settings import BETA, CHANNELS, EVERYONE


def _check_channel(channel: str) -> None:
    if channel not in CHANNELS:
        raise ChannelsError(f"there is no channel {channel!r}", hint=f"channels are: {', '.join(CHANNELS)}")


def _belongs(channel: str, contact: Contact, enrolled: frozenset[str]) -> bool:
    if channel == EVERYONE:
        return True
    if contact.is_staff:
        return True
    return channel == BETA and contact.organisation in enrolled


def _eligible(channel: str, contacts: Iterable[Contact], enrolled_orgs: Iterable[str]) -> list[Contact]:
    _check_channel(channel)
    enrolled = frozenset(enrolled_orgs)
    chosen = [contact for contact in contacts if _belongs(channel, contact, enrolled)]
    return sorted(chosen, key=lambda c: (c.organisation.casefold(), c.name.casefold(), c.email.lower()))


def members(channel: str, contacts: Iterable[Contact], enrolled_orgs: Iterable[str], *,
            include_opted_out: bool) -> list[Contact]:
    """The contacts a notice to `channel` goes to, one per address, sorted by organisation and name.

    A person listed under two organisations (a consultant, a shared inbox) is
    one recipient: they get one copy. `include_opted_out` is an explicit
    choice on every call because the answer differs by notice: an advance
    install notice is mandatory, a beta-available notice is optional.
    """
    chosen: list[Contact] = []
    addresses: set[str] = set()
    for contact in _eligible(channel, contacts, enrolled_orgs):
        if contact.opted_out and not include_opted_out:
            continue
        if contact.email.lower() in addresses:
            continue
        addresses.add(contact.email.lower())
        chosen.append(contact)
    return chosen


def member_organisations(channel: str, contacts: Iterable[Contact],
                         enrolled_orgs: Iterable[str]) -> list[str]:
    """The organisations with at least one contact in the channel, sorted (for `quarterdeck channels`)."""
    orgs = {contact.organisation for contact in _eligible(channel, contacts, enrolled_orgs)}
    return sorted(orgs, key=str.casefold)


@dataclass(frozen=True)
class Audience:
    """One line of `quarterdeck channels`: a channel, its tiers, organisations and head count."""

    channel: str
    tiers: tuple[str, ...]
    organisations: tuple[str, ...]
    contacts: int  # distinct addresses, opted-out ones included (they still get mandatory notices)

    def as_dict(self) -> dict[str, object]:
        return {"channel": self.channel, "tiers": list(self.tiers),
                "organisations": list(self.organisations), "contacts": self.contacts}


def audiences(tier_channels: Iterable[tuple[str, str]], contacts: Iterable[Contact],
              enrolled_orgs: Iterable[str]) -> list[Audience]:
    """Every channel with the tiers that use it, from (tier, channel) pairs in tier order."""
    contacts, enrolled = list(contacts), frozenset(enrolled_orgs)
    tiers: dict[str, list[str]] = {channel: [] for channel in CHANNELS}
    for tier, channel in tier_channels:
        _check_channel(channel)
        tiers[channel].append(tier)
    return [Audience(channel, tuple(tiers[channel]),
                     tuple(member_organisations(channel, contacts, enrolled)),
                     len(members(channel, contacts, enrolled, include_opted_out=True)))
            for channel in CHANNELS]
