"""The run's traffic: five gateway simulators, their providers, and the messages.

Messages come from both front doors of the app: ``helpdesk_sms.api.send_sms`` (several
numbers a call, so gateways get real multi-number requests) and the demo project's Ticket
model, whose saves the model watcher turns into the default templates' messages. Every
(number, text) pair is unique in a run, and every text carries the run's token, so what
a simulator holds can be matched to the database even where the app's pk does not travel.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from helpdesk_sms.simulators import Simulator, get_simulator

#: One set of credentials per gateway, as the tests' fixtures create them.
SECRETS: dict[str, dict[str, str]] = {
    "canlog": {"api_key": "chaos-canlog-key", "user": "chaos", "password": "chaos-canlog-pw"},
    "unified": {"user": "chaos-unified", "password": "chaos-unified-pw"},
    "atl": {"user": "chaos-atl", "password": "chaos-atl-pw"},
    "sms1601": {"user": "chaos-1601", "password": "chaos-1601-pw"},
    "smsclone": {"user": "chaos-smsclone", "password": "chaos-smsclone-pw"},
}
CALLBACK_SECRET = "chaos-callback-secret-0123456789"
GATEWAYS = ["canlog", "unified", "atl", "sms1601", "smsclone"]
#: (E.164 prefix of customers, prefix of the gateway's agent, digits after the prefix).
NUMBERS: dict[str, tuple[str, str, int]] = {
    "canlog": ("+9198", "+9196", 8),
    "unified": ("+9197", "+9195", 8),
    "atl": ("+99450", "+99455", 7),
    "sms1601": ("+3161", "+3162", 7),
    "smsclone": ("+234803", "+234806", 7),
}
#: How the simulated account sees each message's delivery (seconds after acceptance).
DELIVERY_DELAY = 1.0
PLENTY = 10**9  # credits: a run must never be refused for money


def make_simulators(seed: int) -> dict[str, Simulator]:
    """The five simulators, with credit enough for any run and quick deliveries."""
    s = SECRETS
    return {
        "canlog": get_simulator(
            "canlog",
            api_key=s["canlog"]["api_key"],
            user=s["canlog"]["user"],
            password=s["canlog"]["password"],
            balances={"Promo": PLENTY, "Trans": PLENTY},
            delivery_delay=DELIVERY_DELAY,
            seed=seed,
        ),
        "unified": get_simulator(
            "unified",
            user=s["unified"]["user"],
            password=s["unified"]["password"],
            balance=PLENTY,
            delivery_delay=DELIVERY_DELAY,
            push_backoff=1.0,
            push_attempts=10,
            seed=seed,
        ),
        "atl": get_simulator(
            "atl",
            user=s["atl"]["user"],
            password=s["atl"]["password"],
            units=PLENTY,
            delivery_delay=DELIVERY_DELAY,
            report_delay=0.5,
        ),
        "sms1601": get_simulator(
            "sms1601",
            user=s["sms1601"]["user"],
            password=s["sms1601"]["password"],
            credits=PLENTY,
            delivery_delay=DELIVERY_DELAY,
            push_retry_delay=1.0,
            push_attempts=10,
        ),
        "smsclone": get_simulator(
            "smsclone",
            user=s["smsclone"]["user"],
            password=s["smsclone"]["password"],
            balance=PLENTY,
            dnd_numbers=[],
            delivery_delay=DELIVERY_DELAY,
            seed=seed,
        ),
    }


def create_providers(sims: dict[str, Simulator], web_url: str | None) -> dict[str, Any]:
    """One Provider per simulator, as tests/fixtures_*.py make them; push URLs wired up.

    ``web_url`` is the callback web server: the simulators that push (Unified, 1601SMS)
    are told their provider's callback URL. Without it they only poll (1601SMS) or stay
    ``accepted`` (Unified, which cannot be polled).
    """
    from helpdesk_sms.models import Provider, SenderID

    s = SECRETS
    specs: dict[str, dict[str, Any]] = {
        "canlog": dict(
            api_key=s["canlog"]["api_key"],
            options={"channel": "Trans", "route": "15"},
            timezone="Asia/Kolkata",
            sender="HLPDSK",
        ),
        "unified": dict(
            username=s["unified"]["user"],
            password=s["unified"]["password"],
            timezone="Asia/Kolkata",
            sender="HelpDesk",
            callback_secrets=CALLBACK_SECRET,
        ),
        "atl": dict(
            username=s["atl"]["user"],
            password=s["atl"]["password"],
            timezone="Asia/Baku",
            default_region="AZ",
            sender="HELPDESK",
        ),
        "sms1601": dict(
            username=s["sms1601"]["user"],
            password=s["sms1601"]["password"],
            timezone="Europe/Amsterdam",
            default_region="NL",
            sender="HelpDesk",
            callback_secrets=CALLBACK_SECRET,
        ),
        "smsclone": dict(
            username=s["smsclone"]["user"],
            password=s["smsclone"]["password"],
            options={"route": "normal"},
            timezone="Africa/Lagos",
            default_region="NG",
            sender="HELPDESK",
        ),
    }
    providers = {}
    for priority, (gateway, spec) in enumerate(specs.items(), start=1):
        sender = spec.pop("sender")
        provider = Provider.objects.create(
            name=f"chaos {gateway}",
            gateway=gateway,
            base_url=sims[gateway].url,
            priority=priority,
            **spec,
        )
        provider.default_sender = SenderID.objects.create(provider=provider, value=sender)
        provider.save()
        providers[gateway] = provider
        if web_url and spec.get("callback_secrets"):
            sims[gateway].callback_url = (  # type: ignore[attr-defined]
                f"{web_url}/sms/callback/{provider.pk}/{CALLBACK_SECRET}/"
            )
    return providers


#: Routes for failover (issue 12): India through Canlog then Unified, and Unified's own
#: customer range through Unified then Canlog; the other countries have no route.
ROUTES: list[tuple[str, dict[str, str], list[str]]] = [
    ("India", {"country": "IN"}, ["canlog", "unified"]),
    ("India 97", {"prefix": "+9197"}, ["unified", "canlog"]),
]
#: The share of Indian send_sms jobs that name no provider, so their route decides.
ROUTED_SHARE = 0.5


def create_routes(providers: dict[str, Any]) -> None:
    """The failover routes; tickets to Indian numbers take them too (the default templates
    name no provider)."""
    from helpdesk_sms.models import Route, RouteHop

    for name, destination, gateways in ROUTES:
        route = Route.objects.create(name=name, **destination)
        for position, gateway in enumerate(gateways, start=1):
            RouteHop.objects.create(route=route, provider=providers[gateway], position=position)


def routed_gateways() -> set[str]:
    """The gateways whose customers' numbers some route takes."""
    return {gateways[0] for _name, _destination, gateways in ROUTES}


def create_agents() -> dict[str, Any]:
    """One agent per gateway, with a phone in that gateway's country, opted in."""
    from django.contrib.auth import get_user_model

    from helpdesk_sms.models import AgentProfile

    agents = {}
    for gateway in GATEWAYS:
        user = get_user_model().objects.create_user(f"agent-{gateway}", first_name=gateway)
        AgentProfile.objects.create(user=user, phone=agent_phone(gateway))
        agents[gateway] = user
    return agents


def agent_phone(gateway: str) -> str:
    """The gateway's agent: its own prefix, as long as the country's customer numbers."""
    customer, agent, width = NUMBERS[gateway]
    return agent + "1".zfill(len(customer) + width - len(agent))


@dataclass
class Job:
    """One call into the app: a send_sms to some numbers, or one ticket's life."""

    index: int
    kind: str  # "sms" or "ticket"
    gateway: str
    numbers: list[str]
    text: str = ""  # send_sms: the one text for every number
    title: str = ""  # ticket: its unique title
    at: float = 0.0  # seconds after the load began
    created: bool = False
    created_at: float = 0.0
    tries: int = 0
    error: str = ""  # why the app refused it (a bad input is not retried)
    routed: bool = False  # send_sms without a provider: the number's route picks it

    @property
    def messages(self) -> int:
        return len(self.numbers) if self.kind == "sms" else 3


def draw_jobs(seed: int, total: int, duration: float, token: str) -> list[Job]:
    """Jobs adding up to exactly ``total`` messages, spread evenly over ``duration``.

    About a third of the messages come from tickets (created, assigned, a task added:
    three messages each), the rest from send_sms calls of one to ten numbers.
    """
    rng = random.Random(seed + 1)
    counters = {g: rng.randrange(10**5, 10**6) for g in GATEWAYS}
    jobs: list[Job] = []
    made = 0
    while made < total:
        gateway = rng.choice(GATEWAYS)
        remaining = total - made
        prefix, _agent, width = NUMBERS[gateway]
        if remaining >= 3 and rng.random() < 0.44:
            counters[gateway] += 1
            number = prefix + str(counters[gateway]).zfill(width)
            job = Job(len(jobs), "ticket", gateway, [number], title=f"{token} T{len(jobs)}")
        else:
            count = min(remaining, rng.randint(1, 10))
            numbers = []
            for _ in range(count):
                counters[gateway] += 1
                numbers.append(prefix + str(counters[gateway]).zfill(width))
            code = rng.randrange(100000, 999999)
            text = f"Chaos {token} job {len(jobs)}: your helpdesk code is {code}."
            job = Job(len(jobs), "sms", gateway, numbers, text=text)
            job.routed = gateway in routed_gateways() and rng.random() < ROUTED_SHARE
        job.at = duration * made / total
        made += job.messages
        jobs.append(job)
    return jobs


class Producer(threading.Thread):
    """Creates the jobs' messages on schedule, surviving database cuts.

    A job whose call failed may still have committed (the connection died after COMMIT):
    before trying again the producer looks for it, so no message is created twice and
    none is counted that does not exist.
    """

    def __init__(self, jobs: list[Job], providers: dict[str, Any], agents: dict[str, Any]):
        super().__init__(name="producer", daemon=True)
        self.jobs = jobs
        self.providers = providers
        self.agents = agents
        self.stopping = threading.Event()
        self.started_at = 0.0
        self.finished_at = 0.0
        self.errors: Counter[str] = Counter()
        self._preferred: str | None = None

    @property
    def created_messages(self) -> int:
        return sum(j.messages for j in self.jobs if j.created)

    def run(self) -> None:
        from django.db import connection

        self.started_at = time.time()
        try:
            for job in self.jobs:
                while not self.stopping.is_set():
                    delay = self.started_at + job.at - time.time()
                    if delay <= 0:
                        break
                    self.stopping.wait(min(delay, 0.5))
                if self.stopping.is_set():
                    return
                self._create(job)
        finally:
            self.finished_at = time.time()
            connection.close()

    def _create(self, job: Job) -> None:
        from django.db import connection

        from helpdesk_sms.exceptions import SmsInputError

        while not job.created and job.tries < 30 and not self.stopping.is_set():
            job.tries += 1
            try:
                if job.tries > 1 and self._exists(job):
                    job.created = True
                    break
                self._call(job)
                job.created = True
            except SmsInputError as exc:  # the harness's mistake: say so, do not retry
                job.error = str(exc)
                self.errors[type(exc).__name__] += 1
                return
            except Exception as exc:  # a cut connection, a frozen broker: look, then retry
                self.errors[type(exc).__name__] += 1
                self._preferred = None
                connection.close()
                self.stopping.wait(0.3)
        if job.created:
            job.created_at = time.time()

    def _call(self, job: Job) -> None:
        if job.kind == "sms":
            from helpdesk_sms.api import send_sms

            provider = None if job.routed else self.providers[job.gateway]
            send_sms(job.numbers, job.text, provider=provider)
            return
        from django.db import transaction

        from project.demo.models import Task, Ticket

        self._prefer(job.gateway)
        with transaction.atomic():
            ticket = Ticket.objects.create(
                title=job.title,
                customer_name=f"Customer {job.index}",
                customer_phone=job.numbers[0],
                assigned_to=self.agents[job.gateway],
            )
            Task.objects.create(ticket=ticket, title=f"{job.title} visit")

    def _prefer(self, gateway: str) -> None:
        """Tickets go through the preferred provider (the default templates name none):
        make this job's gateway the preferred one."""
        if self._preferred == gateway:
            return
        from django.db import transaction

        from helpdesk_sms.models import Provider

        with transaction.atomic():
            Provider.objects.exclude(pk=self.providers[gateway].pk).update(priority=100)
            Provider.objects.filter(pk=self.providers[gateway].pk).update(priority=1)
        self._preferred = gateway

    @staticmethod
    def _exists(job: Job) -> bool:
        from helpdesk_sms.models import Message
        from project.demo.models import Ticket

        if job.kind == "sms":
            return Message.objects.filter(body=job.text).exists()
        return Ticket.objects.filter(title=job.title).exists()


@dataclass
class SimHolding:
    """What one simulator says it accepted: (digits, text) -> how many times."""

    gateway: str
    held: Counter[tuple[str, str]] = field(default_factory=Counter)
    refs: Counter[int] = field(default_factory=Counter)  # app pks that travelled (1601SMS)
    duplicate_submits: list[str] = field(default_factory=list)  # ATL 002 answers
    requests: int = 0


def holdings(sims: dict[str, Simulator]) -> dict[str, SimHolding]:
    """Each simulator's own record of the messages it took, read from its state()."""
    result = {}
    for gateway, sim in sims.items():
        state = sim.state()
        holding = SimHolding(gateway, requests=len(state["requests"]))
        for message in state.get("messages", []):
            number = "".join(c for c in str(message.get("number", "")) if c.isdigit())
            if gateway == "smsclone":
                number = str(message.get("normalized") or number)
            holding.held[(number, str(message.get("text", "")))] += 1
            reference = str(message.get("reference") or "")
            for ref in reference.split(","):
                if ref.strip().isdigit():
                    holding.refs[int(ref)] += 1
        if gateway == "atl":
            for request in state["requests"]:
                body = str((request.get("response") or {}).get("body", ""))
                if "<responsecode>002</responsecode>" in body:
                    holding.duplicate_submits.append(str(request.get("params", {})))
        result[gateway] = holding
    return result
