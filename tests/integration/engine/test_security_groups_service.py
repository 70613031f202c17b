"""SecurityGroupService through a Runtime: groups, the default group, rules,
listing and tenant isolation, on SQLite or MariaDB (see tests/conftest.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.errors import (
    ConflictingParameters,
    Duplicate,
    IncorrectState,
    InUse,
    InvalidParameter,
    MissingParameter,
    NotFound,
    ResourceKind,
)
from engine.models import Event, Instance, SecurityRule, Tag
from engine.principal import Principal
from engine.querying import Criterion
from engine.services.instances import LaunchRequest
from engine.services.security_groups import RuleSpec
from engine.states import RuleDirection, VmState
from tests.integration.engine.worlds import World


def _create(w: World, who: Principal, name: str, **kw: object) -> str:
    with w.runtime.unit() as sv:
        return sv.security_groups.create(who, name, f"{name} group", **kw).uuid  # type: ignore[arg-type]


def _rule_count(w: World, group_uuid: str) -> int:
    with w.runtime.unit(readonly=True) as sv:
        return int(sv.session.scalar(select(func.count()).select_from(SecurityRule).where(
            SecurityRule.group_uuid == group_uuid)) or 0)


SSH = RuleSpec("tcp", 22, 22, cidr="0.0.0.0/0")


# ------------------------------------------------------------------- groups
def test_create_gives_open_egress_unless_asked_not_to(world: World) -> None:
    web = _create(world, world.alice, "web", tags=[("env", "prod")])
    bare = _create(world, world.alice, "bare", open_egress=False)
    with world.runtime.unit(readonly=True) as sv:
        detail = sv.security_groups.get(world.alice, uuid=web)
        assert detail.group.name == "web" and detail.group.description == "web group"
        assert not detail.group.is_default and detail.account.name == "alice"
        assert detail.ingress == []
        [egress] = detail.egress
        assert (egress.protocol, egress.cidr, egress.start_port, egress.end_port) == (
            "all", "0.0.0.0/0", None, None)
        assert [(t.key, t.value) for t in detail.tags] == [("env", "prod")]
        empty = sv.security_groups.get(world.alice, name="bare")
        assert empty.group.uuid == bare and empty.ingress == empty.egress == []
        assert sv.session.scalar(select(Event.event_type).where(Event.resource_uuid == web)) \
            == "SG.CREATE"


def test_names_are_unique_per_account(world: World) -> None:
    _create(world, world.alice, "web")
    with pytest.raises(Duplicate) as err:
        _create(world, world.alice, "web")
    assert err.value.kind is ResourceKind.SECURITY_GROUP
    _create(world, world.bob, "web")  # another account may use the name
    with pytest.raises(Duplicate):
        _create(world, world.alice, "default")
    with pytest.raises(MissingParameter):
        _create(world, world.alice, " ")
    with pytest.raises(InvalidParameter), world.runtime.unit() as sv:
        sv.security_groups.create(world.alice, "long", "x" * 256)


def test_default_group_is_made_once_and_cannot_be_deleted(world: World) -> None:
    with world.runtime.unit() as sv:
        default = sv.security_groups.ensure_default(world.alice, open_egress=True,
                                                    self_ingress=True)
        again = sv.security_groups.ensure_default(world.alice)
        assert again.uuid == default.uuid and default.is_default and default.name == "default"
    with world.runtime.unit(readonly=True) as sv:
        detail = sv.security_groups.get(world.alice, name="default")
        [ingress] = detail.ingress
        assert ingress.source_group_uuid == default.uuid and ingress.protocol == "all"
        assert detail.peers == {default.uuid: detail.group}
        assert [r.cidr for r in detail.egress] == ["0.0.0.0/0"]
    with pytest.raises(IncorrectState) as err, world.runtime.unit() as sv:
        sv.security_groups.delete(world.alice, default.uuid)
    assert err.value.kind is ResourceKind.SECURITY_GROUP
    # a launch without groups uses the same default group
    with world.runtime.unit() as sv:
        launch = sv.instances.launch(world.alice, LaunchRequest(
            template_uuid=world.template_uuid, offering_uuid=world.offering_uuid, start=False))
        assert [g.uuid for g in launch.instances[0].security_groups] == [default.uuid]
    with world.runtime.unit() as sv:  # CloudStack-style: an empty default group
        bare = sv.security_groups.ensure_default(world.bob)
    assert _rule_count(world, bare.uuid) == 0


def test_delete_refuses_groups_in_use(world: World) -> None:
    used = _create(world, world.alice, "used")
    peer = _create(world, world.alice, "peer")
    with world.runtime.unit() as sv:
        inst = sv.instances.launch(world.alice, LaunchRequest(
            template_uuid=world.template_uuid, offering_uuid=world.offering_uuid,
            security_group_uuids=(used,), start=False)).instances[0].instance.uuid
        sv.security_groups.authorize(world.alice, peer, "ingress",
                                     [RuleSpec("tcp", 80, 80, source_group_uuid=used),
                                      RuleSpec("all", source_group_uuid=peer)])
        sv.security_groups.authorize(world.alice, used, "ingress", [SSH])
    with pytest.raises(InUse) as err, world.runtime.unit() as sv:
        sv.security_groups.delete(world.alice, used)
    assert "instance" in err.value.by
    with world.runtime.unit() as sv:
        sv.session.get(Instance, inst).state = VmState.EXPUNGED  # type: ignore[union-attr]
    with pytest.raises(InUse) as err, world.runtime.unit() as sv:
        sv.security_groups.delete(world.alice, used)  # peer's rule names it
    assert "security group" in err.value.by
    with world.runtime.unit() as sv:
        from engine.services.tags import apply_tags
        apply_tags(sv.session, world.alice, ResourceKind.SECURITY_GROUP, [peer], [("k", "v")])
        sv.security_groups.delete(world.alice, peer)  # its self-reference does not count
        sv.security_groups.delete(world.alice, used)
    with world.runtime.unit(readonly=True) as sv:
        assert sv.session.scalar(select(func.count()).select_from(SecurityRule).where(
            SecurityRule.group_uuid.in_([used, peer]))) == 0
        assert sv.session.scalar(select(func.count()).select_from(Tag).where(
            Tag.resource_uuid == peer)) == 0
        with pytest.raises(NotFound):
            sv.security_groups.get(world.alice, uuid=used)
    with pytest.raises(NotFound), world.runtime.unit() as sv:
        sv.security_groups.delete(world.alice, used)


# -------------------------------------------------------------------- rules
def test_authorize_normalises_and_returns_rules(world: World) -> None:
    g = _create(world, world.alice, "web", open_egress=False)
    src = _create(world, world.alice, "lb")
    with world.runtime.unit() as sv:
        made = sv.security_groups.authorize(world.alice, g, RuleDirection.INGRESS, [
            RuleSpec("TCP", 22, 22, cidr="10.0.0.0/8", description="ssh"),
            RuleSpec("udp", 1000, 2000, cidr="2001:db8::/32"),
            RuleSpec("icmp", cidr="0.0.0.0/0"),
            RuleSpec("icmp", 8, 0, cidr="0.0.0.0/0"),
            RuleSpec("all", 5, 9, source_group_uuid=src),
        ])
        got = [(r.protocol, r.start_port, r.end_port, r.cidr, r.source_group_uuid)
               for r in made]
        assert got == [("tcp", 22, 22, "10.0.0.0/8", None), ("udp", 1000, 2000, "2001:db8::/32",
                       None), ("icmp", -1, -1, "0.0.0.0/0", None), ("icmp", 8, 0, "0.0.0.0/0",
                       None), ("all", None, None, None, src)]
        assert made[0].description == "ssh" and all(len(r.sid) == 17 for r in made)
        sv.security_groups.authorize(world.alice, g, "egress", [SSH])
    with world.runtime.unit(readonly=True) as sv:
        detail = sv.security_groups.get(world.alice, uuid=g)
        assert len(detail.ingress) == 5 and len(detail.egress) == 1
        assert set(detail.peers) == {src} and detail.peer_accounts[world.alice.account_uuid]
        assert len(sv.security_groups.rules(world.alice, [g])) == 6
        assert len(sv.security_groups.rules(world.alice, [g], direction="egress")) == 1


def test_authorize_rejects_duplicates_all_or_nothing(world: World) -> None:
    g = _create(world, world.alice, "web", open_egress=False)
    with world.runtime.unit() as sv:
        sv.security_groups.authorize(world.alice, g, "ingress", [SSH])
    new = RuleSpec("tcp", 80, 80, cidr="0.0.0.0/0")
    same_ssh = RuleSpec("tcp", 22, 22, cidr="0.0.0.0/0", description="other text")
    with pytest.raises(Duplicate) as err, world.runtime.unit() as sv:
        sv.security_groups.authorize(world.alice, g, "ingress", [new, same_ssh])
    assert err.value.kind is ResourceKind.SECURITY_RULE
    with pytest.raises(Duplicate), world.runtime.unit() as sv:
        sv.security_groups.authorize(world.alice, g, "ingress", [new, new])
    assert _rule_count(world, g) == 1
    with world.runtime.unit() as sv:  # the same rule in the other direction is distinct
        sv.security_groups.authorize(world.alice, g, "egress", [SSH])
    assert _rule_count(world, g) == 2


@pytest.mark.parametrize("spec, error", [
    (RuleSpec("gre", cidr="0.0.0.0/0"), InvalidParameter),
    (RuleSpec("tcp", cidr="0.0.0.0/0"), MissingParameter),
    (RuleSpec("tcp", 0, 70000, cidr="0.0.0.0/0"), InvalidParameter),
    (RuleSpec("tcp", 90, 80, cidr="0.0.0.0/0"), InvalidParameter),
    (RuleSpec("udp", -1, -1, cidr="0.0.0.0/0"), InvalidParameter),
    (RuleSpec("icmp", -1, 3, cidr="0.0.0.0/0"), InvalidParameter),
    (RuleSpec("icmp", 300, 0, cidr="0.0.0.0/0"), InvalidParameter),
    (RuleSpec("tcp", 22, 22, cidr="10.0.0.1/8"), InvalidParameter),
    (RuleSpec("tcp", 22, 22, cidr="bogus"), InvalidParameter),
    (RuleSpec("tcp", 22, 22), MissingParameter),
    (RuleSpec("tcp", 22, 22, cidr="0.0.0.0/0", description="d" * 256), InvalidParameter),
    (RuleSpec("tcp", 22, 22, cidr="0.0.0.0/0",
              source_group_uuid="11111111-1111-1111-1111-111111111111"), ConflictingParameters),
    (RuleSpec("tcp", 22, 22, source_group_uuid="11111111-1111-1111-1111-111111111111"),
     NotFound),
])
def test_authorize_validates_specs(world: World, spec: RuleSpec, error: type) -> None:
    g = _create(world, world.alice, "web")
    with pytest.raises(error), world.runtime.unit() as sv:
        sv.security_groups.authorize(world.alice, g, "ingress", [spec])
    with pytest.raises(InvalidParameter), world.runtime.unit() as sv:
        sv.security_groups.authorize(world.alice, g, "sideways", [SSH])
    with pytest.raises(MissingParameter), world.runtime.unit() as sv:
        sv.security_groups.authorize(world.alice, g, "ingress", [])


def test_revoke_by_spec_or_by_id(world: World) -> None:
    g = _create(world, world.alice, "web")  # + the open egress rule
    with world.runtime.unit() as sv:
        ssh, http, dns = sv.security_groups.authorize(world.alice, g, "ingress", [
            RuleSpec("tcp", 22, 22, cidr="10.0.0.0/8"), RuleSpec("tcp", 80, 80, cidr="0.0.0.0/0"),
            RuleSpec("udp", 53, 53, cidr="0.0.0.0/0")])
        ids = (ssh.uuid, http.sid, dns.uuid)
    with pytest.raises(NotFound) as err, world.runtime.unit() as sv:
        sv.security_groups.revoke(world.alice, g, "ingress",
                                  rules=[RuleSpec("tcp", 23, 23, cidr="10.0.0.0/8")])
    assert err.value.kind is ResourceKind.SECURITY_RULE
    with pytest.raises(NotFound), world.runtime.unit() as sv:
        sv.security_groups.revoke(world.alice, None, "egress", rule_ids=[ids[0]])  # wrong way
    with world.runtime.unit() as sv:
        gone = sv.security_groups.revoke(world.alice, g, "ingress", rules=[
            RuleSpec("TCP", 22, 22, cidr=" 10.0.0.0/8", description="ignored")])
        assert [r.uuid for r in gone] == [ids[0]]
        gone = sv.security_groups.revoke(world.alice, None, "ingress", rule_ids=ids[1:])
        assert {r.uuid for r in gone} == {http.uuid, dns.uuid}
        sv.security_groups.revoke(world.alice, g, "egress",
                                  rules=[RuleSpec("all", cidr="0.0.0.0/0")])
    assert _rule_count(world, g) == 0
    with pytest.raises(NotFound), world.runtime.unit() as sv:
        sv.security_groups.revoke(world.alice, None, "ingress", rule_ids=[ids[0]])
    with pytest.raises(MissingParameter), world.runtime.unit() as sv:
        sv.security_groups.revoke(world.alice, None, "ingress", rules=[SSH])


# ------------------------------------------------------------------ listing
def test_list_criteria(world: World) -> None:
    web = _create(world, world.alice, "web-1")
    db = _create(world, world.alice, "db-1", open_egress=False)
    with world.runtime.unit() as sv:
        sv.security_groups.authorize(world.alice, web, "ingress", [SSH])
        sv.security_groups.authorize(world.alice, db, "ingress",
                                     [RuleSpec("tcp", 5432, 5432, source_group_uuid=web)])
        inst = sv.instances.launch(world.alice, LaunchRequest(
            template_uuid=world.template_uuid, offering_uuid=world.offering_uuid,
            security_group_uuids=(db,), start=False)).instances[0].instance.uuid

    def names(*crit: Criterion) -> set[str]:
        with world.runtime.unit(readonly=True) as sv:
            return {d.group.name for d in sv.security_groups.list(world.alice, crit).items}

    assert names() == {"web-1", "db-1"}
    assert names(Criterion("name", ("web-*",))) == {"web-1"}
    assert names(Criterion("description", ("db-1 group",))) == {"db-1"}
    assert names(Criterion("ingress.cidr", ("0.0.0.0/0",))) == {"web-1"}
    assert names(Criterion("ingress.from_port", ("5432",))) == {"db-1"}
    assert names(Criterion("ingress.protocol", ("TCP",))) == {"web-1", "db-1"}
    assert names(Criterion("egress.protocol", ("all",))) == {"web-1"}
    assert names(Criterion("ingress.source_group_name", ("web-1",))) == {"db-1"}
    assert names(Criterion("instance_uuid", (inst,))) == {"db-1"}
    assert names(Criterion("is_default", ("true",))) == set()
    with pytest.raises(InvalidParameter):
        names(Criterion("ingress.to_port", ("x",)))
    with world.runtime.unit(readonly=True) as sv:
        page = sv.security_groups.list(world.alice, count=True)
        assert page.total == 2
        sid = sv.security_groups.get(world.alice, uuid=web).group.sid
        assert sv.security_groups.get(world.alice, sid=sid).group.uuid == web


# ---------------------------------------------------------------- isolation
def test_other_accounts_cannot_see_or_touch_a_group(world: World) -> None:
    g = _create(world, world.alice, "private")
    theirs = _create(world, world.bob, "theirs")
    with world.runtime.unit() as sv:
        [rule] = sv.security_groups.authorize(world.alice, g, "ingress", [SSH])
    sg = world.runtime
    with sg.unit() as sv:
        svc = sv.security_groups
        assert {d.group.name for d in svc.list(world.bob).items} == {"theirs"}
        with pytest.raises(NotFound):
            svc.get(world.bob, uuid=g)
        with pytest.raises(NotFound):
            svc.get(world.bob, name="private")
        with pytest.raises(NotFound):
            svc.get(world.bob, name="private", account_uuid=world.alice.account_uuid)
        with pytest.raises(NotFound):
            svc.rules(world.bob, [g])
        with pytest.raises(NotFound):
            svc.authorize(world.bob, g, "ingress", [RuleSpec("tcp", 1, 1, cidr="0.0.0.0/0")])
        with pytest.raises(NotFound):  # nor name it as a source
            svc.authorize(world.bob, theirs, "ingress",
                          [RuleSpec("tcp", 1, 1, source_group_uuid=g)])
        with pytest.raises(NotFound):
            svc.revoke(world.bob, None, "ingress", rule_ids=[rule.uuid])
        with pytest.raises(NotFound):
            svc.delete(world.bob, g)
        with pytest.raises(NotFound):
            svc.create(world.bob, "sneaky", account_uuid=world.alice.account_uuid)
        # the root admin sees and acts on every account
        assert {d.group.name for d in svc.list(world.admin).items} >= {"private", "theirs"}
        assert svc.get(world.admin, name="private",
                       account_uuid=world.alice.account_uuid).group.uuid == g
        made = svc.create(world.admin, "for-alice", account_uuid=world.alice.account_uuid)
        assert made.account_uuid == world.alice.account_uuid
    assert _rule_count(world, g) == 2
