"""Channel audiences from the shipped sample contacts, before and after enrolling and leaving."""

from __future__ import annotations

from dataclasses import replace

import pytest

from channels.audience.audience import Audience, audiences, member_organisations, members
from channels.audience.contacts import Contact, parse_contacts_csv, sample_contacts_csv
from channels.errors import ChannelsError

STAFF = ["dana.whitfield@quarterdeck.example", "kenji.watanabe@quarterdeck.example",
         "siobhan@quarterdeck.example"]
ACADIA = ["it@acadia-hospice.example", "mh.theriault@acadia-hospice.example"]
BAYOU = ["a.okafor@bayou-palliative.example", "jose.nunez@bayou-palliative.example"]


@pytest.fixture
def contacts() -> list[Contact]:
    return parse_contacts_csv(sample_contacts_csv(), source="sample", default_zone="America/Chicago")


def emails(found: list[Contact]) -> list[str]:
    return sorted(c.email for c in found)


def test_nobody_enrolled(contacts: list[Contact]) -> None:
    assert emails(members("internal", contacts, [], include_opted_out=False)) == STAFF
    assert emails(members("beta", contacts, [], include_opted_out=False)) == STAFF
    assert len(members("everyone", contacts, [], include_opted_out=False)) == len(contacts) == 12
    assert member_organisations("beta", contacts, []) == ["Quarterdeck Health"]


def test_enroll_then_leave(contacts: list[Contact]) -> None:
    enrolled = {"Acadia Hospice", "Bayou Palliative"}
    beta = members("beta", contacts, enrolled, include_opted_out=False)
    assert emails(beta) == sorted(STAFF + ACADIA + BAYOU)
    assert [c.organisation for c in beta] == sorted((c.organisation for c in beta), key=str.casefold)
    assert member_organisations("beta", contacts, enrolled) == [
        "Acadia Hospice", "Bayou Palliative", "Quarterdeck Health"]
    # Enrollment does not change the internal channel or everyone.
    assert emails(members("internal", contacts, enrolled, include_opted_out=False)) == STAFF
    assert len(members("everyone", contacts, enrolled, include_opted_out=False)) == 12

    enrolled.discard("Acadia Hospice")  # Acadia leaves the programme
    assert emails(members("beta", contacts, enrolled, include_opted_out=False)) == sorted(STAFF + BAYOU)
    assert "Acadia Hospice" not in member_organisations("beta", contacts, enrolled)


def test_opted_out_contacts_only_when_asked(contacts: list[Contact]) -> None:
    opted = [replace(c, opted_out=c.email in (ACADIA[0], STAFF[0])) for c in contacts]
    optional = members("beta", opted, ["Acadia Hospice"], include_opted_out=False)
    assert emails(optional) == sorted([ACADIA[1], *STAFF[1:]])
    mandatory = members("beta", opted, ["Acadia Hospice"], include_opted_out=True)
    assert emails(mandatory) == sorted(STAFF + ACADIA)
    assert len(members("everyone", opted, [], include_opted_out=False)) == 10


def test_one_person_in_two_organisations_is_one_recipient(contacts: list[Contact]) -> None:
    consultant = Contact("Acadia Hospice", "Pat", "pat@consult.example", "consultant", "America/Chicago")
    other = replace(consultant, organisation="Bayou Palliative", email="PAT@consult.example")
    twice = [*contacts, consultant, other]
    everyone = members("everyone", twice, [], include_opted_out=False)
    assert [c.organisation for c in everyone if c.name == "Pat"] == ["Acadia Hospice"]
    assert len(everyone) == 13
    assert member_organisations("everyone", twice, []).count("Bayou Palliative") == 1


def test_unknown_channel(contacts: list[Contact]) -> None:
    with pytest.raises(ChannelsError, match="there is no channel 'public'") as caught:
        members("public", contacts, [], include_opted_out=False)
    assert caught.value.hint == "channels are: internal, beta, everyone"


def test_channel_overview(contacts: list[Contact]) -> None:
    overview = audiences([("dev", "internal"), ("staging", "beta"), ("production", "everyone")],
                         contacts, ["Cascade Hospice"])
    assert overview == [
        Audience("internal", ("dev",), ("Quarterdeck Health",), 3),
        Audience("beta", ("staging",), ("Cascade Hospice", "Quarterdeck Health"), 6),
        Audience("everyone", ("production",), ("Acadia Hospice", "Bayou Palliative", "Cascade Hospice",
                                               "Delta Hospice Care", "Quarterdeck Health"), 12),
    ]
    assert overview[1].as_dict() == {
        "channel": "beta", "tiers": ["staging"],
        "organisations": ["Cascade Hospice", "Quarterdeck Health"], "contacts": 6}
    with pytest.raises(ChannelsError, match="no channel 'vip'"):
        audiences([("dev", "vip")], contacts, [])
