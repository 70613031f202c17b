"""engine.querying against an in-memory SQLite: wildcards, criteria, tags, scope, paging."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import create_engine, or_, select
from sqlalchemy.orm import Session

from engine.db import Base
from engine.errors import InvalidParameter, ResourceKind
from engine.models import Account, Domain, KeyPair, Tag
from engine.principal import Principal
from engine.querying import (
    Criterion,
    FieldMap,
    Paging,
    apply_criteria,
    decode_token,
    encode_token,
    like_pattern,
    match_values,
    owner_scope,
    paginate,
    query_key,
)
from engine.states import Role

T0 = datetime(2024, 5, 1, 12, 0, 0)

FIELDS: FieldMap = {
    "name": KeyPair.name,
    "key-type": KeyPair.key_type,
    # A callable field builds its own condition from the values.
    "fingerprint-prefix": lambda values: or_(*(KeyPair.fingerprint.startswith(v)
                                               for v in values)),
}


# ---------------------------------------------------------------- like_pattern
@pytest.mark.parametrize(("value", "pattern"), [
    ("web", "web"),
    ("web-*", "web-%"),
    ("web-?", "web-_"),
    ("*a?b*", "%a_b%"),
    ("100%", "100\\%"),
    ("a_b", "a\\_b"),
    ("back\\slash", "back\\\\slash"),
    ("*_%?", "%\\_\\%_"),
    ("", ""),
])
def test_like_pattern_translates_wildcards_and_escapes_like_metacharacters(
        value: str, pattern: str) -> None:
    assert like_pattern(value) == pattern


# ---------------------------------------------------------------- a small world
@dataclass
class World:
    session: Session
    root: Domain
    sub: Domain
    subsub: Domain
    sibling: Domain
    alice: Account  # in ROOT
    bob: Account  # in /sub/
    carol: Account  # in /sub/deeper/
    dave: Account  # in /sib_x/ (the "_" must not act as a wildcard)

    def principal(self, account: Account, role: Role, domain: Domain) -> Principal:
        return Principal(user_uuid="u", user_name="u", account_uuid=account.uuid,
                         account_name=account.name, account_number=account.number,
                         domain_uuid=domain.uuid, domain_path=domain.path, role=role)

    def names(self, stmt: object) -> list[str]:
        return [k.name for k in self.session.scalars(stmt)]  # type: ignore[call-overload]


def _key(s: Session, account: Account, name: str, minutes: int, key_type: str = "rsa",
         fingerprint: str = "aa:bb") -> KeyPair:
    row = KeyPair(account_uuid=account.uuid, name=name, key_type=key_type, public_key="k",
                  fingerprint=fingerprint, fingerprint_md5="m",
                  created_at=T0 + timedelta(minutes=minutes))
    s.add(row)
    return row


@pytest.fixture
def world() -> Iterator[World]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        root = Domain(name="ROOT", path="/")
        sub = Domain(name="sub", path="/sub/", level=1)
        subsub = Domain(name="deeper", path="/sub/deeper/", level=2)
        sibling = Domain(name="sib_x", path="/sib_x/", level=1)
        s.add_all([root, sub, subsub, sibling])
        s.flush()
        accounts = [Account(number=f"00000000000{n}", domain_uuid=d.uuid, name=name,
                            role=Role.USER)
                    for n, (name, d) in enumerate((("alice", root), ("bob", sub),
                                                   ("carol", subsub), ("dave", sibling)))]
        s.add_all(accounts)
        s.flush()
        alice, bob, carol, dave = accounts
        _key(s, alice, "web-1", 1, fingerprint="11:22")
        _key(s, alice, "web-2", 2, "ed25519", fingerprint="33:44")
        _key(s, alice, "db_1", 3)
        _key(s, alice, "dbx1", 4)
        _key(s, alice, "100%", 5)
        _key(s, alice, "1000", 6)
        _key(s, bob, "bob-key", 7)
        _key(s, carol, "carol-key", 8)
        _key(s, dave, "dave-key", 9)
        s.flush()
        yield World(s, root, sub, subsub, sibling, alice, bob, carol, dave)
    engine.dispose()


def _where(world: World, column: object, values: tuple[str, ...],
           wildcards: bool = True) -> list[str]:
    stmt = select(KeyPair).where(match_values(column, values, wildcards)).order_by(  # type: ignore[arg-type]
        KeyPair.created_at)
    return world.names(stmt)


# ---------------------------------------------------------------- match_values
def test_exact_values_are_ored(world: World) -> None:
    assert _where(world, KeyPair.name, ("web-1",)) == ["web-1"]
    assert _where(world, KeyPair.name, ("web-1", "db_1", "nope")) == ["web-1", "db_1"]


def test_wildcards_match_any_run_or_one_character(world: World) -> None:
    assert _where(world, KeyPair.name, ("web-*",)) == ["web-1", "web-2"]
    assert _where(world, KeyPair.name, ("web-?", "*-key")) == [
        "web-1", "web-2", "bob-key", "carol-key", "dave-key"]
    assert _where(world, KeyPair.name, ("?ob*",)) == ["bob-key"]


def test_like_metacharacters_in_values_are_literal(world: World) -> None:
    assert _where(world, KeyPair.name, ("db_*",)) == ["db_1"]  # not dbx1
    assert _where(world, KeyPair.name, ("100%*",)) == ["100%"]  # not 1000
    assert _where(world, KeyPair.name, ("100%",)) == ["100%"]


def test_wildcards_can_be_turned_off(world: World) -> None:
    assert _where(world, KeyPair.name, ("web-*",), wildcards=False) == []
    assert _where(world, KeyPair.name, ("web-1",), wildcards=False) == ["web-1"]


def test_no_values_match_nothing(world: World) -> None:
    assert _where(world, KeyPair.name, ()) == []


# ---------------------------------------------------------------- apply_criteria
def _apply(world: World, *criteria: Criterion) -> list[str]:
    stmt = apply_criteria(select(KeyPair), FIELDS, criteria, uuid_column=KeyPair.uuid,
                          kind=ResourceKind.KEY_PAIR).order_by(KeyPair.created_at)
    return world.names(stmt)


def test_criteria_are_anded(world: World) -> None:
    assert _apply(world, Criterion("name", ("web-*",)), Criterion("key-type", ("rsa",))) == [
        "web-1"]
    assert _apply(world, Criterion("name", ("web-1",)), Criterion("key-type", ("ed25519",))) \
        == []


def test_callable_fields_build_their_own_condition(world: World) -> None:
    assert _apply(world, Criterion("fingerprint-prefix", ("11:", "33:"))) == ["web-1", "web-2"]


def test_an_unknown_field_is_an_error_not_an_empty_result(world: World) -> None:
    with pytest.raises(InvalidParameter) as err:
        _apply(world, Criterion("colour", ("red",)))
    assert err.value.name == "Filter"
    assert "colour" in err.value.message


def test_tag_criteria(world: World) -> None:
    s = world.session
    keys = {k.name: k for k in s.scalars(select(KeyPair))}
    for name, key, value in (("web-1", "env", "prod"), ("web-2", "env", "dev"),
                             ("db_1", "owner", "prod-team")):
        s.add(Tag(resource_kind=ResourceKind.KEY_PAIR, resource_uuid=keys[name].uuid,
                  account_uuid=world.alice.uuid, key=key, value=value))
    # A tag of another kind of resource on the same uuid does not count.
    s.add(Tag(resource_kind=ResourceKind.INSTANCE, resource_uuid=keys["1000"].uuid,
              account_uuid=world.alice.uuid, key="env", value="prod"))
    s.flush()
    assert _apply(world, Criterion("tag:env", ("prod",))) == ["web-1"]
    assert _apply(world, Criterion("tag:env", ("prod", "dev"))) == ["web-1", "web-2"]
    assert _apply(world, Criterion("tag:env", ("d*",))) == ["web-2"]
    assert _apply(world, Criterion("tag-key", ("owner",))) == ["db_1"]
    assert _apply(world, Criterion("tag-key", ("*",))) == ["web-1", "web-2", "db_1"]
    assert _apply(world, Criterion("tag-value", ("prod*",))) == ["web-1", "db_1"]
    assert _apply(world, Criterion("tag:env", ("prod",)), Criterion("name", ("db*",))) == []
    assert _apply(world, Criterion("tag:missing", ("*",))) == []


# ---------------------------------------------------------------- owner_scope
def _visible(world: World, principal: Principal, list_all: bool = True) -> set[str]:
    """Names of the accounts whose key pairs the principal sees."""
    stmt = (select(Account.name).join(KeyPair, KeyPair.account_uuid == Account.uuid)
            .where(owner_scope(KeyPair.account_uuid, principal, list_all=list_all)))
    return set(world.session.scalars(stmt))


def test_root_admin_sees_everything_unless_narrowed(world: World) -> None:
    admin = world.principal(world.alice, Role.ADMIN, world.root)
    assert _visible(world, admin) == {"alice", "bob", "carol", "dave"}
    assert _visible(world, admin, list_all=False) == {"alice"}


def test_domain_admin_sees_its_subtree_only(world: World) -> None:
    admin = world.principal(world.bob, Role.DOMAIN_ADMIN, world.sub)
    assert _visible(world, admin) == {"bob", "carol"}
    assert _visible(world, admin, list_all=False) == {"bob"}


def test_domain_paths_are_matched_literally(world: World) -> None:
    """``/sib_x/`` must not be read as a LIKE pattern matching ``/sibax/``."""
    odd = Domain(name="sibax", path="/sibax/", level=1)
    world.session.add(odd)
    world.session.flush()
    eve = Account(number="000000000099", domain_uuid=odd.uuid, name="eve", role=Role.USER)
    world.session.add(eve)
    world.session.flush()
    _key(world.session, eve, "eve-key", 20)
    world.session.flush()
    admin = world.principal(world.dave, Role.DOMAIN_ADMIN, world.sibling)
    assert _visible(world, admin) == {"dave"}


def test_a_user_sees_its_own_account_only(world: World) -> None:
    user = world.principal(world.carol, Role.USER, world.subsub)
    assert _visible(world, user) == {"carol"}


# ---------------------------------------------------------------- paging
def _page(world: World, paging: Paging, key: str = "q", *, count: bool = False,
          where: object = None):  # type: ignore[no-untyped-def]
    stmt = select(KeyPair)
    if where is not None:
        stmt = stmt.where(where)  # type: ignore[arg-type]
    return paginate(world.session, stmt, created_column=KeyPair.created_at,
                    uuid_column=KeyPair.uuid, paging=paging, query_key=key, count=count)


def test_keyset_pages_cover_everything_once_in_stable_order(world: World) -> None:
    everything = _page(world, Paging()).items
    assert [k.name for k in everything][:3] == ["web-1", "web-2", "db_1"]
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = _page(world, Paging(limit=4, token=token))
        seen += [k.uuid for k in page.items]
        pages += 1
        assert len(page.items) <= 4
        token = page.next_token
        if token is None:
            break
    assert pages == 3
    assert seen == [k.uuid for k in everything]


def test_ties_on_created_at_are_broken_by_uuid(world: World) -> None:
    s = world.session
    same = [_key(s, world.alice, f"tie-{n}", 30) for n in range(5)]
    s.flush()
    where = KeyPair.name.startswith("tie-")
    first = _page(world, Paging(limit=2), where=where)
    second = _page(world, Paging(limit=2, token=first.next_token), where=where)
    third = _page(world, Paging(limit=2, token=second.next_token), where=where)
    got = [k.uuid for p in (first, second, third) for k in p.items]
    assert got == sorted(k.uuid for k in same)
    assert third.next_token is None


def test_the_last_full_page_has_no_token(world: World) -> None:
    page = _page(world, Paging(limit=9))
    assert len(page.items) == 9
    assert page.next_token is None


def test_a_token_is_bound_to_its_query(world: World) -> None:
    token = _page(world, Paging(limit=2), key=query_key("keys", "alice", ())).next_token
    assert token is not None
    assert _page(world, Paging(limit=2, token=token), key=query_key("keys", "alice", ())).items
    with pytest.raises(InvalidParameter) as err:
        _page(world, Paging(limit=2, token=token), key=query_key("keys", "bob", ()))
    assert err.value.name == "NextToken"


@pytest.mark.parametrize("token", ["garbage", "!!!", "e30", "bm90IGpzb24"])
def test_a_malformed_token_is_rejected(token: str) -> None:
    with pytest.raises(InvalidParameter):
        decode_token(token, "q")


def test_tokens_round_trip() -> None:
    when = datetime(2024, 1, 2, 3, 4, 5, 678901)
    token = encode_token(when, "some-uuid", "q")
    assert "=" not in token
    assert decode_token(token, "q") == (when, "some-uuid")


def test_query_key_is_stable_and_distinguishes_queries() -> None:
    assert query_key("a", {"x": 1, "y": 2}) == query_key("a", {"y": 2, "x": 1})
    assert query_key("a", 1) != query_key("a", 2)


def test_offset_paging_and_total(world: World) -> None:
    page = _page(world, Paging(limit=3, offset=3), count=True)
    assert [k.name for k in page.items] == ["dbx1", "100%", "1000"]
    assert page.total == 9
    assert page.next_token is not None
    rest = _page(world, Paging(offset=6))
    assert [k.name for k in rest.items] == ["bob-key", "carol-key", "dave-key"]
    assert rest.next_token is None
    assert rest.total is None


def test_paging_over_rows_of_several_entities(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A page of (Zone, Region) rows is cut by the first entity's key."""
    import engine.models as m
    from engine.db import Base, connect

    db = connect(f"sqlite:///{tmp_path / 'multi.db'}")
    Base.metadata.create_all(db.engine)
    with db.session() as s:
        region = m.Region(name="r1")
        s.add(region)
        s.flush()
        for i in range(3):
            s.add(m.Zone(region_uuid=region.uuid, name=f"z{i}"))
        s.flush()
        stmt = select(m.Zone, m.Region).join(m.Region, m.Region.uuid == m.Zone.region_uuid)
        first = paginate(s, stmt, created_column=m.Zone.created_at, uuid_column=m.Zone.uuid,
                         paging=Paging(limit=2), query_key="zones")
        rest = paginate(s, stmt, created_column=m.Zone.created_at, uuid_column=m.Zone.uuid,
                        paging=Paging(limit=2, token=first.next_token), query_key="zones")
    names = [z.name for z, _ in first.items] + [z.name for z, _ in rest.items]
    assert sorted(names) == ["z0", "z1", "z2"] and rest.next_token is None
    db.dispose()


def test_newest_first_pages_walk_backwards_and_tokens_keep_the_direction(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import engine.models as m
    from engine.db import connect

    db = connect(f"sqlite:///{tmp_path / 'desc.sqlite'}")
    Base.metadata.create_all(db.engine)
    with db.session() as s:
        region = m.Region(name="r1")
        s.add(region)
        s.flush()
        base = datetime(2026, 1, 1)
        for i in range(5):
            s.add(m.Zone(region_uuid=region.uuid, name=f"z{i}",
                         created_at=base + timedelta(seconds=i)))
        s.flush()
        stmt = select(m.Zone)
        names: list[str] = []
        token = None
        while True:
            page = paginate(s, stmt, created_column=m.Zone.created_at, uuid_column=m.Zone.uuid,
                            paging=Paging(limit=2, token=token), query_key="zones",
                            newest_first=True)
            names += [z.name for z in page.items]
            token = page.next_token
            if token is None:
                break
        assert names == ["z4", "z3", "z2", "z1", "z0"]
        ascending = paginate(s, stmt, created_column=m.Zone.created_at,
                             uuid_column=m.Zone.uuid, paging=Paging(limit=2), query_key="zones")
        with pytest.raises(InvalidParameter):  # a token is bound to its direction
            paginate(s, stmt, created_column=m.Zone.created_at, uuid_column=m.Zone.uuid,
                     paging=Paging(limit=2, token=ascending.next_token), query_key="zones",
                     newest_first=True)
    db.dispose()
