"""The rules of My Organisation, each tried as an attack on the domain layer."""

from __future__ import annotations

import pytest

from idp.domain import address_changes, management, member_list, organisations, suspensions, users
from idp.domain.management import NewUser
from idp.domain.member_list import ListQuery
from idp.errors import InvalidCredentials, InvalidInput, NotFound, PermissionDenied
from idp.extensions import db
from idp.models import User, UserOrigin, UserStatus
from tests.factories import PASSWORD
from tests.journeys import address_change_link


@pytest.fixture
def world(make):
    """AA101 with its officer and a teacher; CA200 (an Associate) with centre CA201; ZZ999."""
    aa101 = make.org("AA101", name="Centre A")
    ca200 = make.org("CA200", name="Associate")
    ca201 = make.org("CA201", name="Associate centre", associate_of="CA200")
    zz999 = make.org("ZZ999", name="Elsewhere")
    officer = make.user("officer@example.org", org=aa101, roles=("user_management",))
    organisations.set_exams_officer(aa101, officer, make.catalogue)
    teacher = make.user("teacher@example.org", org=aa101, roles=("sfa.teacher",))
    associate = make.user("associate@example.org", org=ca200, roles=("user_management",))
    centre_teacher = make.user("ct@example.org", org=ca201, roles=("sfa.teacher",))
    stranger = make.user("stranger@example.org", org=zz999, roles=("sfa.teacher",))
    db.session.commit()
    return {
        "aa101": aa101,
        "ca200": ca200,
        "ca201": ca201,
        "zz999": zz999,
        "officer": officer,
        "teacher": teacher,
        "associate": associate,
        "centre_teacher": centre_teacher,
        "stranger": stranger,
        "catalogue": make.catalogue,
    }


def test_an_officer_manages_their_centre_and_an_associate_its_centres(world):
    catalogue = world["catalogue"]
    assert [o.code for o in management.manageable(world["officer"], catalogue)] == ["AA101"]
    assert [o.code for o in management.manageable(world["associate"], catalogue)] == [
        "CA200",
        "CA201",
    ]
    assert management.manageable(world["teacher"], catalogue) == []


@pytest.mark.parametrize(
    ("actor", "code"),
    [("officer", "ZZ999"), ("officer", "CA201"), ("teacher", "AA101"), ("associate", "AA101")],
)
def test_other_organisations_are_not_manageable_by_an_actor(world, actor, code):
    managed = management.manageable(world[actor], world["catalogue"])
    assert code not in [o.code for o in managed]


def test_a_member_of_another_organisation_cannot_be_reached_by_their_id(world):
    with pytest.raises(NotFound):
        management.member(world["aa101"], world["stranger"].sub)


def test_nobody_changes_their_own_roles(world):
    with pytest.raises(PermissionDenied, match="your own roles|the roles of yourself"):
        management.change_roles(
            world["officer"],
            world["aa101"],
            world["officer"],
            ["sfa.exams_officer"],
            world["catalogue"],
        )


def test_global_listening_cannot_be_granted_by_a_crafted_post(world):
    with pytest.raises(PermissionDenied, match="goes with the centre's exams officer"):
        management.change_roles(
            world["officer"],
            world["aa101"],
            world["teacher"],
            ["sfa.teacher", "gl.exams_officer"],
            world["catalogue"],
        )
    db.session.rollback()
    teacher = db.session.get(User, world["teacher"].id)
    assert organisations.membership(teacher, world["aa101"]).role_keys == {"sfa.teacher"}


def test_roles_of_another_brand_are_refused(world):
    with pytest.raises(InvalidInput, match="not offered"):
        management.change_roles(
            world["officer"],
            world["aa101"],
            world["teacher"],
            ["ocr.interchange"],
            world["catalogue"],
        )


def test_the_officers_global_listening_survives_a_role_edit_by_another_manager(world, make):
    deputy = make.user("deputy@example.org", org=world["aa101"], roles=("user_management",))
    management.change_roles(
        deputy,
        world["aa101"],
        world["officer"],
        ["user_management", "sfa.exams_officer"],
        world["catalogue"],
    )
    keys = organisations.membership(world["officer"], world["aa101"]).role_keys
    assert keys == {"user_management", "sfa.exams_officer", "gl.exams_officer"}


def test_the_last_user_manager_cannot_be_removed(world, make):
    # The Associate's officer manages CA201, where one person holds User Management.
    head = make.user("head@example.org", org=world["ca201"], roles=("user_management",))
    with pytest.raises(PermissionDenied, match="last person with User Management"):
        management.change_roles(
            world["associate"], world["ca201"], head, ["sfa.teacher"], world["catalogue"]
        )
    with pytest.raises(PermissionDenied, match="last person with User Management"):
        suspensions.suspend(world["associate"], world["ca201"], head, world["catalogue"])


def test_nobody_suspends_or_deletes_themselves(world):
    with pytest.raises(PermissionDenied):
        suspensions.suspend(world["officer"], world["aa101"], world["officer"], world["catalogue"])
    with pytest.raises(PermissionDenied):
        management.remove(world["officer"], world["aa101"], world["officer"], world["catalogue"])


def test_an_active_user_cannot_be_deleted(world):
    with pytest.raises(PermissionDenied, match="Suspend this account before deleting it"):
        management.remove(world["officer"], world["aa101"], world["teacher"], world["catalogue"])


def test_a_suspended_invited_account_is_deleted_with_its_membership(world):
    person = management.add(
        world["officer"],
        world["aa101"],
        NewUser("Tom", "New", "tom@example.org", ("sfa.teacher",)),
        management.ManagementSettings(world["catalogue"], 3600, 60),
    )
    db.session.commit()
    tom = db.session.scalar(db.select(User).where(User.sub == person.sub))
    suspensions.suspend(world["officer"], world["aa101"], tom, world["catalogue"])
    db.session.commit()
    assert tom.status == "suspended"
    assert management.remove(world["officer"], world["aa101"], tom, world["catalogue"]) is True
    db.session.commit()
    assert db.session.scalar(db.select(User).where(User.sub == person.sub)) is None


def test_an_account_of_its_own_removed_from_its_last_centre_is_not_left_suspended(world):
    """The teacher's account is not one the centre made (she had it before): suspended, then
    removed, she keeps it, and it must be usable, not suspended with no centre left to restore
    it. She signs in to an account with no centre, as a new sign-up would."""
    teacher, catalogue = world["teacher"], world["catalogue"]
    assert teacher.origin != UserOrigin.INVITATION
    assert suspensions.suspend(world["officer"], world["aa101"], teacher, catalogue) == "account"
    db.session.commit()
    with pytest.raises(InvalidCredentials):
        users.authenticate("teacher@example.org", PASSWORD)
    assert management.remove(world["officer"], world["aa101"], teacher, catalogue) is False
    db.session.commit()
    kept = db.session.get(User, teacher.id)
    assert kept.memberships == [] and kept.status == UserStatus.ACTIVE
    assert users.authenticate("teacher@example.org", PASSWORD).id == teacher.id


def test_a_person_of_another_organisation_is_suspended_here_only_then_removed(world):
    catalogue = world["catalogue"]
    organisations.set_roles(world["stranger"], world["aa101"], ["sfa.teacher"], catalogue)
    db.session.commit()
    reach = suspensions.suspend(world["officer"], world["aa101"], world["stranger"], catalogue)
    db.session.commit()
    assert reach == "membership" and world["stranger"].status == "active"
    here = organisations.membership(world["stranger"], world["aa101"])
    assert here.is_suspended and here.held_role_keys == set() and here.role_keys
    elsewhere = [m for m in world["stranger"].memberships if m.organisation.code == "ZZ999"]
    assert not elsewhere[0].is_suspended and elsewhere[0].held_role_keys
    assert (
        management.remove(world["officer"], world["aa101"], world["stranger"], catalogue) is False
    )
    db.session.commit()
    stranger = db.session.get(User, world["stranger"].id)
    assert [m.organisation.code for m in stranger.memberships] == ["ZZ999"]
    assert stranger.status == "active"


def test_adding_an_existing_account_invites_it_to_join_instead_of_duplicating(world, mailbox):
    settings = management.ManagementSettings(world["catalogue"], 3600, 60)
    outcome = management.add(
        world["officer"],
        world["aa101"],
        NewUser("S", "Tranger", "Stranger@Example.org", ("aa.nominated_user",)),
        settings,
    )
    db.session.commit()
    # The outcome addresses the invitation, not the account, and says what it says of a new
    # address.
    assert outcome.kind == "invited" and outcome.sub != world["stranger"].sub
    assert outcome.sub.startswith("u_") and len(outcome.sub) == len(world["stranger"].sub)
    assert db.session.scalar(db.select(db.func.count()).select_from(User)) == 5
    assert organisations.membership(world["stranger"], world["aa101"]) is None
    mailbox.wait_for("stranger@example.org", "Centre A invites you to join it")
    again = management.check_new(
        world["officer"],
        world["aa101"],
        NewUser("S", "T", "stranger@example.org", ("sfa.teacher",)),
        world["catalogue"],
    )
    assert (
        again.kind == "already_member" and again.message == "Already invited to this organisation."
    )


def test_the_list_searches_sorts_filters_and_pages(world, make):
    aa101 = world["aa101"]
    for i in range(40):
        make.user(
            f"person{i:02d}@example.org",
            given_name=f"Person{i:02d}",
            family_name="Zed",
            org=aa101,
            roles=("sfa.teacher",) if i % 2 else ("aa.nominated_user",),
        )
    page = member_list.list_members(aa101, ListQuery(per_page=15))
    assert page.total == 42 and len(page.rows) == 15 and (page.first, page.last) == (1, 15)
    assert page.rows[0].name == "Jane Smith"  # officer and teacher are both Jane Smith
    last = member_list.list_members(aa101, ListQuery(per_page=15, page=99))
    assert last.query.page == 3 and (last.first, last.last) == (31, 42)
    found = member_list.list_members(aa101, ListQuery(search="person07"))
    assert [r.email for r in found.rows] == ["person07@example.org"]
    by_name = member_list.list_members(aa101, ListQuery(search="zed person1"))
    assert by_name.total == 10
    teachers = member_list.list_members(aa101, ListQuery(role="sfa.teacher", per_page=100))
    assert teachers.total == 21 and all("sfa.teacher" in r.roles for r in teachers.rows)
    desc = member_list.list_members(aa101, ListQuery(sort="email", descending=True))
    assert desc.rows[0].email == "teacher@example.org"
    wildcard = member_list.list_members(aa101, ListQuery(search="%"))
    assert wildcard.total == 0
    other = member_list.list_members(world["zz999"], ListQuery())
    assert [r.email for r in other.rows] == ["stranger@example.org"]


def _settings(world) -> management.ManagementSettings:
    return management.ManagementSettings(world["catalogue"], 3600, 60)


@pytest.mark.parametrize("holder", ["officer", "deputy"])
def test_nobody_changes_the_address_of_someone_who_holds_an_office(world, make, holder):
    deputy = make.user("deputy@example.org", org=world["aa101"], roles=("user_management",))
    actor, target = (
        (deputy, world["officer"]) if holder == "officer" else (world["officer"], deputy)
    )
    assert management.holds_office(target, world["catalogue"])
    with pytest.raises(PermissionDenied, match="only they can change their email address"):
        management.change_email(actor, world["aa101"], target, "mine@example.net", _settings(world))
    db.session.rollback()
    assert db.session.get(User, target.id).email == f"{holder}@example.org"


def test_the_address_of_a_teacher_is_changed_and_both_addresses_told(world, mailbox):
    assert not management.holds_office(world["teacher"], world["catalogue"])
    management.change_email(
        world["officer"], world["aa101"], world["teacher"], "t2@example.org", _settings(world)
    )
    db.session.commit()
    link = address_change_link(mailbox, "t2@example.org")
    change = address_changes.for_link(link.rpartition("/")[2])
    address_changes.confirm(change, invitation_ttl=3600)
    db.session.commit()
    for address in ("teacher@example.org", "t2@example.org"):
        mailbox.wait_for(address, "Your My Cambridge email address was changed")


def test_restore_refuses_someone_who_belongs_to_another_organisation(world):
    catalogue = world["catalogue"]
    stranger = world["stranger"]
    stranger.status = UserStatus.SUSPENDED  # suspended by ZZ999
    organisations.set_roles(stranger, world["aa101"], ["sfa.teacher"], catalogue)
    db.session.commit()
    with pytest.raises(PermissionDenied, match="cannot be restored from here"):
        suspensions.restore(world["officer"], world["aa101"], stranger, catalogue)
    db.session.rollback()
    assert db.session.get(User, stranger.id).status == "suspended"


def test_a_suspended_member_of_another_organisation_is_answered_like_any_address(world):
    world["stranger"].status = UserStatus.SUSPENDED
    db.session.commit()
    row = NewUser("S", "T", "stranger@example.org", ("sfa.teacher",))
    outcome = management.check_new(world["officer"], world["aa101"], row, world["catalogue"])
    assert (outcome.kind, outcome.message) == ("invited", "")
    management.add(world["officer"], world["aa101"], row, _settings(world))
    assert organisations.membership(world["stranger"], world["aa101"]) is None


def test_nobody_adds_themselves_to_an_organisation_they_manage(world):
    row = NewUser("A", "Ssociate", "associate@example.org", ("user_management",))
    outcome = management.check_new(world["associate"], world["ca201"], row, world["catalogue"])
    assert outcome.kind == "error" and "cannot add yourself" in outcome.message
    with pytest.raises(InvalidInput, match="cannot add yourself"):
        management.add(world["associate"], world["ca201"], row, _settings(world))
    db.session.rollback()
    associate = db.session.get(User, world["associate"].id)
    assert organisations.membership(associate, world["ca201"]) is None


def test_the_outcome_names_the_row_not_the_existing_account(world, make):
    make.user("secret@example.org", given_name="Secret", family_name="Holder")
    outcome = management.check_new(
        world["officer"],
        world["aa101"],
        NewUser("Ann", "Probe", "secret@example.org", ("sfa.teacher",)),
        world["catalogue"],
    )
    assert (outcome.kind, outcome.name) == ("invited", "Ann Probe")


def test_an_unverified_sign_up_is_invited_as_the_address_owners_account(world, mailbox):
    squatter = _unverified_sign_up("mine@example.org")
    old_hash = squatter.password_hash
    row = NewUser("Tess", "Teacher", "mine@example.org", ("sfa.teacher",))
    assert management.check_new(world["officer"], world["aa101"], row, world["catalogue"]).kind == (
        "invited"
    )
    outcome = management.add(world["officer"], world["aa101"], row, _settings(world))
    db.session.commit()
    person = db.session.get(User, squatter.id)
    assert (outcome.kind, outcome.sub) == ("invited", person.sub)
    assert person.name == "Tess Teacher" and person.origin == UserOrigin.INVITATION
    assert person.status == UserStatus.INVITED and person.must_change_password
    assert person.password_hash != old_hash and person.password_changed_at is None
    mailbox.wait_for("mine@example.org", "Your My Cambridge account")


def _unverified_sign_up(address: str) -> User:
    """A self sign-up whose code was never entered (whoever typed the address may not own it)."""
    user = users.create(
        email=address,
        given_name="Mal",
        family_name="Lory",
        password="lantern orchard velvet",
        origin=UserOrigin.SELF,
        awaiting_verification=True,
    )
    db.session.commit()
    return user


def test_restore_brings_back_an_account_that_never_proved_its_address_as_invited(world, make):
    from idp.domain import passwords

    catalogue = world["catalogue"]
    tom = make.invited("tom@example.org", org=world["aa101"], roles=("sfa.teacher",))
    passwords.set_password(tom, "a password chosen at the first sign-in")  # no code entered yet
    suspensions.suspend(world["officer"], world["aa101"], tom, catalogue)
    db.session.commit()
    suspensions.restore(world["officer"], world["aa101"], tom, catalogue)
    db.session.commit()
    assert db.session.get(User, tom.id).status == "invited"
    suspensions.suspend(world["officer"], world["aa101"], world["teacher"], catalogue)
    suspensions.restore(world["officer"], world["aa101"], world["teacher"], catalogue)
    assert world["teacher"].status == "active"


def test_a_person_suspended_here_who_now_belongs_only_here_can_be_deleted(world):
    """Suspended at AA101 while they also taught at ZZ999; ZZ999 then let them go: the
    membership's suspension is the suspension delete asks for."""
    catalogue = world["catalogue"]
    stranger = world["stranger"]
    organisations.set_roles(stranger, world["aa101"], ["sfa.teacher"], catalogue)
    assert suspensions.suspend(world["officer"], world["aa101"], stranger, catalogue) == (
        "membership"
    )
    elsewhere = organisations.membership(stranger, world["zz999"])
    stranger.memberships.remove(elsewhere)
    db.session.delete(elsewhere)
    db.session.commit()
    assert management.remove(world["officer"], world["aa101"], stranger, catalogue) is False
    db.session.commit()
    assert db.session.get(User, stranger.id).memberships == []


def test_the_officer_of_an_associate_centre_is_suspended_at_the_associate_only(world):
    """The Associate's officer manages CA200 and CA201; a CA200 teacher named exams officer of
    CA201 keeps their account (and office) when suspended at CA200, and cannot be suspended at
    CA201 from My Organisation at all."""
    catalogue = world["catalogue"]
    head = world["centre_teacher"]
    organisations.set_roles(head, world["ca200"], ["sfa.teacher"], catalogue)
    organisations.set_exams_officer(world["ca201"], head, catalogue)
    db.session.commit()
    with pytest.raises(PermissionDenied, match="exams officer named for CA201"):
        suspensions.suspend(world["associate"], world["ca201"], head, catalogue)
    assert suspensions.suspend(world["associate"], world["ca200"], head, catalogue) == (
        "membership"
    )
    db.session.commit()
    assert head.status == "active"
    assert not organisations.membership(head, world["ca201"]).is_suspended
