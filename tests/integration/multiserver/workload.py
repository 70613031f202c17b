"""A mixed client workload spread over several management servers.

Each client thread behaves like a client behind a round-robin load balancer:
it sends every request to the next server, and when a server does not answer
(connection refused or dropped) or answers "retry" (EC2 ``ServiceUnavailable``,
CloudStack 530/534) it tries the next one.

* EC2 launches carry a ``ClientToken`` and are retried until one is answered
  (RunInstances is idempotent per token), so every launch ends up accepted;
* CloudStack deploys have no token: one that got no answer is *uncertain*
  (it may or may not exist; never twice) and is not retried;
* terminations (EC2 TerminateInstances, CloudStack destroyVirtualMachine with
  expunge) are idempotent and retried until answered.

The :class:`Ledger` records what was accepted, for the tests' audit, and each
request's latency, for the benchmark.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import requests
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError
from cs import CloudStack, CloudStackApiException, CloudStackException

RETRYABLE_EC2 = {"ServiceUnavailable", "RequestLimitExceeded"}
RETRYABLE_CS = {530, 534}
IMAGE = "amzn2-ami-hvm-2.0-x86_64-gp2"


class Retry(Exception):
    """The request was not carried out and may be sent again (to any server)."""


class NoAnswer(Retry):
    """The server did not answer: the request may or may not have been carried out."""


@dataclass
class Ledger:
    ec2_launched: dict[str, str] = field(default_factory=dict)  # token -> instance id
    ec2_terminated: set[str] = field(default_factory=set)  # instance ids
    cs_deployed: dict[str, str] = field(default_factory=dict)  # vm name -> vm uuid
    cs_uncertain: set[str] = field(default_factory=set)  # vm names sent, never answered
    cs_destroyed: set[str] = field(default_factory=set)  # vm uuids
    refused: list[str] = field(default_factory=list)  # non-retryable errors (bugs)
    retries: Counter[str] = field(default_factory=Counter)  # why requests were re-sent
    latencies: list[tuple[str, float]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, **kw: Any) -> None:
        with self.lock:
            for key, value in kw.items():
                target = getattr(self, key)
                if isinstance(target, dict):
                    target.update([value])
                elif isinstance(target, set):
                    target.add(value)
                elif isinstance(target, Counter):
                    target[value] += 1
                else:
                    target.append(value)


@dataclass(frozen=True)
class Target:
    """The servers and the admin's credentials."""

    urls: list[str]
    access_key: str
    secret_key: str


class Client:
    """One client thread's connections (one per server) and its workload."""

    def __init__(self, target: Target, ledger: Ledger, name: str, *, give_up: float = 90) -> None:
        self.target, self.ledger, self.name = target, ledger, name
        self._turn = itertools.count(hash(name) % len(target.urls))
        self._ec2: dict[str, Any] = {}
        self._cs: dict[str, CloudStack] = {}
        self._give_up = give_up
        self._n = itertools.count()
        self.catalog: dict[str, str] = {}

    # ------------------------------------------------------------ plumbing
    def _next_url(self) -> str:
        return self.target.urls[next(self._turn) % len(self.target.urls)]

    def ec2(self, url: str) -> Any:
        if url not in self._ec2:
            self._ec2[url] = boto3.client(
                "ec2", endpoint_url=url, region_name="us-east-1",
                aws_access_key_id=self.target.access_key,
                aws_secret_access_key=self.target.secret_key,
                config=BotoConfig(retries={"total_max_attempts": 1}, connect_timeout=3,
                                  read_timeout=30))
        return self._ec2[url]

    def cs(self, url: str) -> CloudStack:
        if url not in self._cs:
            self._cs[url] = CloudStack(endpoint=f"{url}/client/api", key=self.target.access_key,
                                       secret=self.target.secret_key, timeout=30)
        return self._cs[url]

    def _ec2_call(self, url: str, op: str, **params: Any) -> Any:
        try:
            return getattr(self.ec2(url), op)(**params)
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code in RETRYABLE_EC2:
                raise Retry(f"ec2 {code}") from exc
            raise
        except BotoCoreError as exc:
            raise NoAnswer(type(exc).__name__) from exc

    def _cs_call(self, url: str, command: str, **params: Any) -> Any:
        try:
            return getattr(self.cs(url), command)(**params)
        except CloudStackApiException as exc:
            code = (exc.error or {}).get("errorcode")
            if code in RETRYABLE_CS:
                raise Retry(f"cs {code}") from exc
            raise
        except (requests.RequestException, CloudStackException) as exc:
            raise NoAnswer(type(exc).__name__) from exc

    def until_answered(self, op: str, call: Callable[[str], Any]) -> Any:
        """``call(url)`` on one server after another until one answers."""
        deadline = time.monotonic() + self._give_up
        while True:
            url = self._next_url()
            started = time.monotonic()
            try:
                out = call(url)
            except Retry as exc:
                self.ledger.note(retries=str(exc))
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
                continue
            self.ledger.note(latencies=(op, time.monotonic() - started))
            return out

    # ------------------------------------------------------------ workload
    def load_catalog(self) -> None:
        url = self._next_url()
        images = self._ec2_call(url, "describe_images")["Images"]
        self.catalog["image"] = next(i["ImageId"] for i in images if i["Name"] == IMAGE)
        c = self.cs(url)
        self.catalog["zoneid"] = c.listZones()["zone"][0]["id"]
        self.catalog["templateid"] = next(
            t["id"] for t in c.listTemplates(templatefilter="executable")["template"]
            if t["name"] == IMAGE)
        self.catalog["serviceofferingid"] = next(
            o["id"] for o in c.listServiceOfferings()["serviceoffering"] if o["name"] == "t2.micro")

    def ec2_launch(self) -> str | None:
        token = f"{self.name}-{next(self._n)}"
        try:
            out = self.until_answered("RunInstances", lambda url: self._ec2_call(
                url, "run_instances", ImageId=self.catalog["image"], MinCount=1, MaxCount=1,
                InstanceType="t2.micro", ClientToken=token))
        except ClientError as exc:
            self.ledger.note(refused=f"RunInstances {token}: {exc}")
            return None
        instance_id: str = out["Instances"][0]["InstanceId"]
        self.ledger.note(ec2_launched=(token, instance_id))
        return instance_id

    def ec2_terminate(self, instance_id: str) -> None:
        try:
            self.until_answered("TerminateInstances", lambda url: self._ec2_call(
                url, "terminate_instances", InstanceIds=[instance_id]))
        except ClientError as exc:
            self.ledger.note(refused=f"TerminateInstances {instance_id}: {exc}")
            return
        self.ledger.note(ec2_terminated=instance_id)

    def cs_deploy(self) -> str | None:
        name = f"{self.name}-cs{next(self._n)}"
        url = self._next_url()
        started = time.monotonic()
        try:
            out = self._cs_call(url, "deployVirtualMachine", name=name, displayname=name,
                                zoneid=self.catalog["zoneid"],
                                templateid=self.catalog["templateid"],
                                serviceofferingid=self.catalog["serviceofferingid"])
        except NoAnswer as exc:
            self.ledger.note(cs_uncertain=name, retries=str(exc))
            return None
        except Retry as exc:  # refused before anything was committed
            self.ledger.note(retries=str(exc))
            return None
        except CloudStackApiException as exc:
            self.ledger.note(refused=f"deployVirtualMachine {name}: {exc}")
            return None
        self.ledger.note(latencies=("deployVirtualMachine", time.monotonic() - started))
        self.ledger.note(cs_deployed=(name, out["id"]))
        return str(out["id"])

    def cs_destroy(self, vm_uuid: str) -> None:
        try:
            self.until_answered("destroyVirtualMachine", lambda url: self._cs_call(
                url, "destroyVirtualMachine", id=vm_uuid, expunge=True))
        except CloudStackApiException as exc:
            self.ledger.note(refused=f"destroyVirtualMachine {vm_uuid}: {exc}")
            return
        self.ledger.note(cs_destroyed=vm_uuid)

    def run(self, stop: threading.Event, *, keep: int = 2) -> None:
        """Alternate EC2 and CloudStack launches; keep at most ``keep`` of each
        alive, terminating the oldest, until ``stop`` is set."""
        mine_ec2: list[str] = []
        mine_cs: list[str] = []
        while not stop.is_set():
            made = self.ec2_launch()
            if made:
                mine_ec2.append(made)
            if len(mine_ec2) > keep:
                self.ec2_terminate(mine_ec2.pop(0))
            if stop.is_set():
                break
            vm = self.cs_deploy()
            if vm:
                mine_cs.append(vm)
            if len(mine_cs) > keep:
                self.cs_destroy(mine_cs.pop(0))


def drive(target: Target, ledger: Ledger, *, threads: int, stop: threading.Event,
          prefix: str = "load") -> list[threading.Thread]:
    """Start ``threads`` client threads; they run until ``stop`` is set."""
    out = []
    first = Client(target, ledger, f"{prefix}-catalog")
    first.load_catalog()
    for n in range(threads):
        client = Client(target, ledger, f"{prefix}{n}")
        client.catalog = dict(first.catalog)
        t = threading.Thread(target=client.run, args=(stop,), name=f"client-{n}", daemon=True)
        t.start()
        out.append(t)
    return out
