"""Key pairs: create, import, describe, delete.

Fingerprints are the engine's EC2-style ones (see ``engine.ssh_keys``): SHA-1 of
the PKCS#8 private key for RSA keys made here, MD5 of the DER public key for
imported RSA keys, SHA-256 of the key blob for ED25519 keys.
"""

from __future__ import annotations

from collections.abc import Sequence

from awsapi import ids, views_security
from awsapi.actions import Params, RequestContext, Result, action
from awsapi.actions.tags import spec_tags
from awsapi.errors_wire import Ec2Error
from awsapi.filters import KEY_PAIR_FILTERS, criteria
from awsapi.ids import Kind
from engine.errors import NotFound
from engine.querying import Criterion


@action("CreateKeyPair")
def create_key_pair(ctx: RequestContext, p: Params) -> Result:
    """The private key is in the answer once and stored nowhere."""
    tags = spec_tags(p, "key-pair")
    row, material = ctx.services.key_pairs.create(
        ctx.principal, p["KeyName"], p.get("KeyType") or "rsa", p.get("KeyFormat") or "pem",
        tags=tags)
    return views_security.new_key_pair(row, tags, material)


@action("ImportKeyPair")
def import_key_pair(ctx: RequestContext, p: Params) -> Result:
    """Material that is no OpenSSH/PEM/RFC 4716 public key is InvalidKey.Format."""
    tags = spec_tags(p, "key-pair")
    row = ctx.services.key_pairs.import_key(ctx.principal, p["KeyName"],
                                            p["PublicKeyMaterial"], tags=tags)
    return views_security.new_key_pair(row, tags)


@action("DescribeKeyPairs", readonly=True)
def describe_key_pairs(ctx: RequestContext, p: Params) -> Result:
    """KeyNames are looked up in the caller's own account; a name or id that
    matches nothing is InvalidKeyPair.NotFound (when no filter narrows the set)."""
    crit = list(criteria(p.get("Filters"), KEY_PAIR_FILTERS))
    names: Sequence[str] = p.get("KeyNames") or []
    key_ids: Sequence[str] = p.get("KeyPairIds") or []
    sids = [ids.parse(k, Kind.KEY_PAIR) for k in key_ids]
    if names:
        crit += [Criterion("name", tuple(names), False),
                 Criterion("account_uuid", (ctx.principal.account_uuid,), False)]
    if sids:
        crit.append(Criterion("sid", tuple(sids), False))
    page = ctx.services.key_pairs.list(ctx.principal, crit)
    if not p.get("Filters"):
        found_names = {d.key_pair.name for d in page.items}
        found_sids = {d.key_pair.sid for d in page.items}
        for name in names:
            if name not in found_names:
                raise Ec2Error(Kind.KEY_PAIR.not_found_code,
                               f"The key pair '{name}' does not exist")
        for key_id, sid in zip(key_ids, sids, strict=True):
            if sid not in found_sids:
                raise Ec2Error(Kind.KEY_PAIR.not_found_code,
                               f"The key pair ID '{key_id}' does not exist")
    include = bool(p.get("IncludePublicKey"))
    return {"KeyPairs": [views_security.key_pair(d, include_public=include)
                         for d in page.items]}


@action("DeleteKeyPair")
def delete_key_pair(ctx: RequestContext, p: Params) -> Result:
    """Idempotent: a key pair that does not exist (or is another account's) is
    not an error and nothing is deleted."""
    name, key_id = p.get("KeyName"), p.get("KeyPairId")
    if not name and not key_id:
        raise Ec2Error("MissingParameter",
                       "The request must contain the parameter KeyName or KeyPairId")
    if name and key_id:
        raise Ec2Error("InvalidParameterCombination",
                       "The parameters KeyName and KeyPairId cannot be used together")
    svc = ctx.services.key_pairs
    try:
        if key_id:
            found = svc.get(ctx.principal, sid=ids.parse(key_id, Kind.KEY_PAIR))
        else:
            found = svc.get(ctx.principal, name=name)
    except NotFound:
        return {"Return": True}
    svc.delete(ctx.principal, uuid=found.key_pair.uuid)
    return {"Return": True, "KeyPairId": ids.render(Kind.KEY_PAIR, found.key_pair.sid)}
