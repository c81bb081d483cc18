"""A model of Route 53 health checks and DNS failover, for the failover lab.

**This module models Route 53; it is not Route 53.** Everything else in the lab is a real part
(MariaDB replication, the web server runtime, the loader, the orchestration code). This one
piece stands in for the Route 53 service: it probes the lab's real HTTP endpoints
(``http://127.0.0.1:PORT/health`` per region) and applies the rules AWS documents, so the drill
can measure detection and switch times and print them beside the modelled figures.

Rules modelled, and where AWS documents them
--------------------------------------------
Developer Guide, "How Amazon Route 53 determines whether a health check is healthy"
(https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html):

- Health checkers in several locations probe the endpoint independently: "Route 53 health
  checkers in different data centers don't coordinate with one another". Modelled as N checkers
  (default 8, one per default checker region), each with its own phase offset.
- Each checker decides from the failure threshold: it needs ``failure_threshold`` consecutive
  failures to consider the endpoint unhealthy, and as many consecutive successes to consider it
  healthy again (the API reference's ``FailureThreshold``: "the number of consecutive health
  checks that an endpoint must pass or fail ... to change the current status ... from unhealthy
  to healthy or vice versa").
- HTTP/HTTPS: "Route 53 must be able to establish a TCP connection with the endpoint within four
  seconds. In addition, the endpoint must respond with an HTTP status code of 2xx or 3xx within
  two seconds after connecting." HTTPS checks do not validate the certificate.
- Aggregation, the 18% rule: "If more than 18% of health checkers report that an endpoint is
  healthy, Route 53 considers it healthy. If 18% of health checkers or fewer report that an
  endpoint is healthy, Route 53 considers it unhealthy." (the page adds that the value may
  change in a future release). With 6 checkers: 1 healthy (16.7%) is unhealthy, 2 (33%) healthy.

Developer Guide, "Values that you specify when you create or update health checks"
(https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/health-checks-creating-values.html),
with the same fields in the API reference's ``HealthCheckConfig``:

- Request interval: "the number of seconds between the time that Amazon Route 53 gets a response
  from your endpoint and the time that it sends the next health check request. Each Route 53
  health checker makes requests at this interval." So a checker's next request goes out
  ``interval`` seconds after the previous response (or timeout), not on a fixed grid. Route 53
  accepts 10 or 30; the model takes any positive value so a short drill can run scaled down.
- Checker regions: at least three; by default all eight (``DEFAULT_CHECKER_REGIONS``).
- Invert: "consider a health check unhealthy when it otherwise would be considered healthy" (and
  the reverse). (An earlier version of the operator commands drained a region by inverting
  its health check; a dead region then counts as healthy, so they now drain by path, below.)
- Resource path: ``UpdateHealthCheck`` may change a check's ``ResourcePath``; checkers request
  the new path from then on. The operator commands drain a region by pointing its check at a
  path the web server never serves (``set_resource_path``), so it fails whether the region
  answers or not.
- Disabled: "Route 53 stops submitting requests ... After you disable a health check, Route 53
  considers the status of the health check to always be healthy ... If you want to stop routing
  traffic to a resource, change the value of Inverted." A disabled health check's checkers stop
  probing and its status is healthy; a disabled *and* inverted check is therefore unhealthy (our
  reading of the two sentences together; AWS does not state the combination outright).

Developer Guide, "Configuring DNS failover"
(https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-configuring.html), its
page "How Amazon Route 53 chooses records when health checking is configured"
(https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/health-checks-how-route-53-chooses-records.html),
and the API reference's ``ResourceRecordSet.Failover``:

- PRIMARY healthy: the PRIMARY's value, whatever the SECONDARY's health.
- PRIMARY unhealthy, SECONDARY healthy: the SECONDARY's value.
- Both unhealthy: the PRIMARY's value. ``ResourceRecordSet.Failover``: "When the secondary
  resource record set is unhealthy, Route 53 responds to DNS queries with the applicable value
  from the primary resource record set regardless of the health of the primary"; the records
  page: when no record is healthy, "Route 53 considers all the records in the group to be
  healthy and selects one based on the routing policy".
- A record without a health check is always healthy ("Records without a health check are always
  healthy"); a SECONDARY without one is answered whenever the PRIMARY is unhealthy.

Clients cache an answer for the record's TTL (RFC 1035). The project's records are aliases to
the load balancers, which answer with a 60 s TTL (``tapstack.failover.model.ALIAS_TTL_SECONDS``,
mirrored here as ``ALIAS_TTL_SECONDS`` to keep this module on the standard library).

Deliberately not modelled
-------------------------
- Evaluate target health of the alias records (the ALB's target-group health): the lab has no
  load balancer; a region's record health is its health check's status alone.
- How long Route 53 takes to aggregate checker reports and to propagate a status or setting
  change to its name servers; here both are instant.
- Network partitions between some checker locations and the endpoint: every checker sees the
  same endpoint, so they disagree only through their phases.
- The status of a brand-new health check before its first results (undocumented): checkers
  start with the view given by ``initially_healthy``, healthy by default. Likewise a
  re-enabled health check: its checkers resume from the views they held when it was disabled.
- Resolver behaviour beyond the TTL: minimum/maximum TTL clamping, negative caching, clients
  that pin an address for a connection's life.
- Other health-check types (TCP, string matching, calculated, CloudWatch alarm), latency
  measurement, and the ``Host`` header/SNI a real checker sends for the record's name.

Use
---
``Prober`` runs the model. Stepped (``step(now)``, deterministic under an injected clock and
probe function) or on background threads (``start()``/``stop()``, one thread per checker, real
HTTP). Its ``timeline`` records every checker result, every health-check state change and every
change of the DNS answer, from which the drill reads the measured detection time and switch
time; ``expected_detection_seconds`` gives the modelled window to print beside them.
"""

from __future__ import annotations

import dataclasses
import http.client
import math
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple
from urllib.parse import urlsplit

#: Route 53 considers an endpoint healthy when MORE than this share of checkers report healthy.
HEALTHY_CHECKER_PERCENT = 18
#: HTTP(S) health checks: the TCP connection must be established within 4 s ...
CONNECT_TIMEOUT_SECONDS = 4.0
#: ... and the status line (2xx or 3xx) must arrive within 2 s after connecting.
RESPONSE_TIMEOUT_SECONDS = 2.0
#: The request intervals Route 53 accepts (the model accepts any positive value).
ROUTE53_INTERVALS = (10, 30)
#: The checker regions Route 53 uses when none are chosen (API ``HealthCheckRegion`` values).
DEFAULT_CHECKER_REGIONS = (
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "sa-east-1",
)
#: Route 53 requires at least three checker regions.
MIN_CHECKERS = 3
#: Alias records to an ALB answer with the ALB's 60 s TTL (tapstack.failover.model).
ALIAS_TTL_SECONDS = 60

Clock = Callable[[], float]


class Role(StrEnum):
    """A failover record's type."""

    PRIMARY = "PRIMARY"
    SECONDARY = "SECONDARY"


# --- probing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProbeRequest:
    """One checker's request: what a probe function receives."""

    url: str
    sent_at: float
    region: str
    checker: str
    connect_timeout: float = CONNECT_TIMEOUT_SECONDS
    response_timeout: float = RESPONSE_TIMEOUT_SECONDS


@dataclass(frozen=True)
class ProbeOutcome:
    """What one request got: ``ok`` per Route 53's rule, the HTTP status if one arrived, how
    long the request took (connect + response, seconds) and why it failed."""

    ok: bool
    status: int | None = None
    elapsed: float = 0.0
    error: str | None = None


Probe = Callable[[ProbeRequest], ProbeOutcome]


def status_passes(status: int) -> bool:
    """2xx and 3xx pass (the API reference: "200 or greater and less than 400")."""
    return 200 <= status < 400


def http_probe(request: ProbeRequest) -> ProbeOutcome:
    """GET ``request.url`` the way a Route 53 HTTP(S) checker does: TCP connection within
    ``connect_timeout``, then a 2xx/3xx status within ``response_timeout`` of connecting.
    Redirects are not followed (a 3xx passes as it is); HTTPS certificates are not verified."""
    parts = urlsplit(request.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"url: {request.url!r} is not an http:// or https:// URL with a host")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        # Route 53: "HTTPS health checks don't validate SSL/TLS certificates".
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=request.connect_timeout, context=context
        )
    else:
        conn = http.client.HTTPConnection(
            parts.hostname, parts.port, timeout=request.connect_timeout
        )
    started = time.monotonic()
    try:
        try:
            conn.connect()
        except (TimeoutError, OSError) as error:
            return ProbeOutcome(False, None, time.monotonic() - started, f"connect: {error}")
        connected = time.monotonic()
        if conn.sock is not None:
            conn.sock.settimeout(request.response_timeout)
        try:
            conn.request("GET", path, headers={"User-Agent": "tapstack-lab-route53-model"})
            response = conn.getresponse()
        except (TimeoutError, OSError, http.client.HTTPException) as error:
            error_text = str(error) or type(error).__name__
            return ProbeOutcome(False, None, time.monotonic() - started, f"response: {error_text}")
        done = time.monotonic()
        if done - connected > request.response_timeout:
            return ProbeOutcome(
                False, response.status, done - started, "response: status after the timeout"
            )
        if not status_passes(response.status):
            return ProbeOutcome(False, response.status, done - started, f"HTTP {response.status}")
        return ProbeOutcome(True, response.status, done - started)
    finally:
        conn.close()


# --- settings and the modelled figures -------------------------------------------------------


@dataclass(frozen=True)
class HealthCheckSettings:
    """One health check's pace and checkers (the same for both regions in TapStack).

    Attributes:
        interval: seconds from one response to the checker's next request
            (``dns.health_check_interval_seconds``; Route 53 accepts 10 or 30).
        failure_threshold: consecutive results that flip a checker's view, 1-10
            (``dns.health_check_failure_threshold``).
        checkers: how many independent checkers probe, at least 3.
        connect_timeout: seconds to establish the TCP connection (Route 53: 4).
        response_timeout: seconds from connecting to the status line (Route 53: 2).
        offsets: each checker's first request, seconds after the start; default spread evenly
            over one interval (``interval * k / checkers``).
        initially_healthy: each checker's view before its first results.
    """

    interval: float = 30.0
    failure_threshold: int = 3
    checkers: int = len(DEFAULT_CHECKER_REGIONS)
    connect_timeout: float = CONNECT_TIMEOUT_SECONDS
    response_timeout: float = RESPONSE_TIMEOUT_SECONDS
    offsets: tuple[float, ...] | None = None
    initially_healthy: bool = True

    def __post_init__(self) -> None:
        if not self.interval > 0:
            raise ValueError(
                f"interval: {self.interval!r} must be > 0 seconds (Route 53: 10 or 30)"
            )
        if not 1 <= self.failure_threshold <= 10:
            raise ValueError(f"failure_threshold: {self.failure_threshold!r} must be 1-10")
        if self.checkers < MIN_CHECKERS:
            raise ValueError(
                f"checkers: {self.checkers!r} must be >= {MIN_CHECKERS} "
                "(Route 53 checks from at least three regions)"
            )
        for name in ("connect_timeout", "response_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: {getattr(self, name)!r} must be > 0 seconds")
        if self.offsets is not None:
            if len(self.offsets) != self.checkers:
                raise ValueError(
                    f"offsets: {len(self.offsets)} given, one per checker ({self.checkers}) needed"
                )
            if any(offset < 0 for offset in self.offsets):
                raise ValueError(f"offsets: {self.offsets!r} must all be >= 0")

    @classmethod
    def from_dns(cls, dns: Any, **overrides: Any) -> HealthCheckSettings:
        """From the project's ``DnsConfig`` (read by attribute: this module stays stdlib-only)."""
        values: dict[str, Any] = {
            "interval": float(dns.health_check_interval_seconds),
            "failure_threshold": int(dns.health_check_failure_threshold),
        }
        values.update(overrides)
        return cls(**values)

    def checker_offsets(self) -> tuple[float, ...]:
        if self.offsets is not None:
            return self.offsets
        return tuple(self.interval * k / self.checkers for k in range(self.checkers))

    def checker_names(self) -> tuple[str, ...]:
        regions = DEFAULT_CHECKER_REGIONS
        return tuple(
            regions[k % len(regions)] + (f"#{k // len(regions) + 1}" if k >= len(regions) else "")
            for k in range(self.checkers)
        )


class Window(NamedTuple):
    """A modelled duration: no sooner than ``earliest``, no later than ``latest`` seconds."""

    earliest: float
    latest: float

    def __str__(self) -> str:
        return f"{self.earliest:g}-{self.latest:g} s"


def expected_detection_seconds(
    interval: float, failure_threshold: int, *, probe_seconds: float = 0.0
) -> Window:
    """How long after an endpoint starts failing its health check turns unhealthy.

    Each checker's first failing request goes out within one interval of the failure, and
    ``failure_threshold`` failing requests, each ``probe_seconds`` long (about 0 when the
    connection is refused, up to 6 when it times out) and ``interval`` apart, flip it. The
    health check turns when enough checkers have turned, so it lands in the same window:
    ``[(threshold - 1) * interval, threshold * interval]`` plus the probes' own time. The same
    window bounds recovery (``failure_threshold`` consecutive successes, with
    ``probe_seconds`` about 0).
    """
    if not interval > 0 or failure_threshold < 1 or probe_seconds < 0:
        raise ValueError(
            f"interval {interval!r} must be > 0, failure_threshold {failure_threshold!r} >= 1, "
            f"probe_seconds {probe_seconds!r} >= 0"
        )
    return Window(
        earliest=(failure_threshold - 1) * interval + failure_threshold * probe_seconds,
        latest=failure_threshold * (interval + probe_seconds),
    )


def expected_client_switch_seconds(
    interval: float, failure_threshold: int, ttl: float, *, probe_seconds: float = 0.0
) -> Window:
    """From the failure until a client sees the new answer: detection, plus up to one TTL for
    a client whose cached answer was fetched just before the switch."""
    detection = expected_detection_seconds(interval, failure_threshold, probe_seconds=probe_seconds)
    return Window(detection.earliest, detection.latest + ttl)


def aggregate_healthy(healthy_checkers: int, checkers: int) -> bool:
    """Route 53's 18% rule: healthy when more than 18% of the checkers report healthy."""
    return healthy_checkers * 100 > HEALTHY_CHECKER_PERCENT * checkers


def failover_answer(primary_healthy: bool | None, secondary_healthy: bool | None) -> Role:
    """Which failover record Route 53 answers with (``None``: the record has no health check,
    so it is always healthy)."""
    if primary_healthy is None or primary_healthy:
        return Role.PRIMARY
    if secondary_healthy is None or secondary_healthy:
        return Role.SECONDARY
    return Role.PRIMARY  # none healthy: all count as healthy, and the PRIMARY comes first


# --- the timeline ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckerResult:
    """One checker's request and its result; ``checker_healthy`` is its view afterwards."""

    time: float
    region: str
    checker: str
    sent_at: float
    ok: bool
    status: int | None
    elapsed: float
    error: str | None
    checker_healthy: bool
    flipped: bool


@dataclass(frozen=True)
class HealthCheckChanged:
    """A health check's status as Route 53 reports it (after disable/invert), and why it changed
    (``initial``, ``checkers``, ``inverted``, ``disabled``)."""

    time: float
    region: str
    healthy: bool
    healthy_checkers: int
    checkers: int
    reason: str


@dataclass(frozen=True)
class HealthCheckSettingChanged:
    """An operator's change of a health check's ``inverted`` or ``disabled`` flag, or of the
    path it requests (``path``)."""

    time: float
    region: str
    inverted: bool
    disabled: bool
    path: str | None = None


@dataclass(frozen=True)
class AnswerChanged:
    """Route 53's answer for the failover name changed (or its first answer)."""

    time: float
    role: Role
    region: str
    target: str


Event = CheckerResult | HealthCheckChanged | HealthCheckSettingChanged | AnswerChanged


class Timeline:
    """The model's events in the order they happened; thread-safe."""

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._lock = threading.Lock()

    def append(self, event: Event) -> None:
        with self._lock:
            self._events.append(event)

    @property
    def events(self) -> tuple[Event, ...]:
        with self._lock:
            return tuple(self._events)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def checker_results(self, region: str | None = None) -> list[CheckerResult]:
        return [
            e
            for e in self.events
            if isinstance(e, CheckerResult) and (region is None or e.region == region)
        ]

    def health_changes(self, region: str | None = None) -> list[HealthCheckChanged]:
        return [
            e
            for e in self.events
            if isinstance(e, HealthCheckChanged) and (region is None or e.region == region)
        ]

    def answers(self) -> list[AnswerChanged]:
        return [e for e in self.events if isinstance(e, AnswerChanged)]

    def answer_at(self, t: float) -> AnswerChanged | None:
        """Route 53's answer at time ``t`` (``None`` before the model started)."""
        current = None
        for answer in self.answers():
            if answer.time > t:
                break
            current = answer
        return current

    def client_answer_at(self, t: float, ttl: float, first_query: float) -> AnswerChanged | None:
        """What a client that resolves the name continuously from ``first_query`` on sees at
        ``t``: the answer of its last refresh, at ``first_query + k * ttl <= t``."""
        if t < first_query:
            return None
        refreshed = first_query + math.floor((t - first_query) / ttl) * ttl
        return self.answer_at(refreshed)

    def health_turned(self, region: str, healthy: bool, since: float) -> HealthCheckChanged | None:
        """The first change of ``region``'s health check to ``healthy`` at or after ``since``."""
        return next(
            (c for c in self.health_changes(region) if c.healthy is healthy and c.time >= since),
            None,
        )

    def detection_seconds(self, region: str, failed_at: float) -> float | None:
        """Measured detection: from the endpoint failing until its health check is unhealthy."""
        change = self.health_turned(region, False, failed_at)
        return None if change is None else change.time - failed_at

    def recovery_seconds(self, region: str, recovered_at: float) -> float | None:
        """From the endpoint answering again until its health check is healthy."""
        change = self.health_turned(region, True, recovered_at)
        return None if change is None else change.time - recovered_at

    def answer_switched(self, role: Role, since: float) -> AnswerChanged | None:
        """The first change of the answer to ``role`` at or after ``since``."""
        return next((a for a in self.answers() if a.role is role and a.time >= since), None)

    def switch_seconds(self, role: Role, since: float) -> float | None:
        """From ``since`` until Route 53 answers with ``role``."""
        answer = self.answer_switched(role, since)
        return None if answer is None else answer.time - since

    def client_switch_seconds(self, role: Role, since: float, ttl: float) -> float | None:
        """Client-visible switch, worst case: the answer switch plus one TTL (a client that
        cached the old answer just before the switch keeps it that long)."""
        switched = self.switch_seconds(role, since)
        return None if switched is None else switched + ttl


class CachingResolver:
    """One client's resolver: keeps an answer for ``ttl`` seconds, then asks again.

    ``age``: the first answer counts as already cached that many seconds (it expires
    ``ttl - age`` after the first query), so clients started together can have their caches
    expire at different times, as a population of resolvers does."""

    def __init__(self, ttl: float, lookup: Callable[[float], str], *, age: float = 0.0) -> None:
        if not ttl >= 0:
            raise ValueError(f"ttl: {ttl!r} must be >= 0 seconds")
        if not 0 <= age <= ttl:
            raise ValueError(f"age: {age!r} must be between 0 and the ttl {ttl!r}")
        self.ttl = ttl
        self._age = age
        self._lookup = lookup
        self._answer: str | None = None
        self._expires = -math.inf

    @property
    def expires(self) -> float:
        """When the cached answer expires (``-inf`` before the first query)."""
        return self._expires

    def resolve(self, now: float) -> str:
        if self._answer is None or now >= self._expires:
            first = self._answer is None
            self._answer = self._lookup(now)
            self._expires = now + self.ttl - (self._age if first else 0.0)
        return self._answer


# --- the model -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegionEndpoint:
    """One region's half of the failover pair.

    Attributes:
        region: the region's name, e.g. ``us-east-1``.
        role: its failover record's type.
        url: what the health check requests, e.g. ``http://127.0.0.1:8081/health``.
        target: the record's value, what a client connects to; default the url's origin.
        health_checked: whether the record has a health check (TapStack: both do).
    """

    region: str
    role: Role
    url: str
    target: str | None = None
    health_checked: bool = True

    @property
    def answer_target(self) -> str:
        if self.target is not None:
            return self.target
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"


@dataclass
class _Checker:
    name: str
    healthy: bool
    next_send: float
    streak: int = 0
    in_flight: tuple[float, ProbeRequest, ProbeOutcome] | None = None


@dataclass
class _HealthCheck:
    endpoint: RegionEndpoint
    checkers: list[_Checker]
    inverted: bool = False
    disabled: bool = False
    healthy: bool = True
    threads: list[threading.Thread] = field(default_factory=list)

    def healthy_checkers(self) -> int:
        return sum(c.healthy for c in self.checkers)

    def status(self) -> bool:
        measured = (
            True
            if self.disabled
            else aggregate_healthy(self.healthy_checkers(), len(self.checkers))
        )
        return measured is not self.inverted


class Prober:
    """Route 53, modelled: health checks on each region's endpoint and the failover answer.

    Stepped: ``step(now)`` runs every request due up to ``now`` in time order, each stamped at
    its scheduled time, so a fake clock and a fake probe give an exact, repeatable timeline.
    Threaded: ``start()`` runs each checker on its own thread against the real endpoints,
    stamped by ``clock``; ``stop()`` ends them. Do not mix the two.
    """

    def __init__(
        self,
        endpoints: Sequence[RegionEndpoint],
        settings: HealthCheckSettings,
        *,
        ttl: float = ALIAS_TTL_SECONDS,
        probe: Probe = http_probe,
        clock: Clock = time.monotonic,
        start: float | None = None,
    ) -> None:
        roles = sorted(e.role for e in endpoints)
        if roles != [Role.PRIMARY, Role.SECONDARY]:
            raise ValueError(
                f"endpoints: roles {[str(r) for r in roles]} given; "
                "one PRIMARY and one SECONDARY needed"
            )
        if not ttl >= 0:
            raise ValueError(f"ttl: {ttl!r} must be >= 0 seconds")
        self.settings = settings
        self.ttl = ttl
        self.timeline = Timeline()
        self._probe = probe
        self._clock = clock
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self.started_at = clock() if start is None else start
        names = settings.checker_names()
        self._checks: dict[str, _HealthCheck] = {}
        for endpoint in sorted(endpoints, key=lambda e: e.role):
            checkers = [
                _Checker(name, settings.initially_healthy, self.started_at + offset)
                for name, offset in zip(names, settings.checker_offsets(), strict=True)
            ]
            check = _HealthCheck(endpoint, checkers)
            check.healthy = check.status()
            self._checks[endpoint.region] = check
            self._record_health(check, self.started_at, "initial")
        self._answer: AnswerChanged | None = None
        self._update_answer(self.started_at)

    # --- state ---

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(self._checks)

    def endpoint(self, role: Role) -> RegionEndpoint:
        return next(c.endpoint for c in self._checks.values() if c.endpoint.role is role)

    def healthy(self, region: str) -> bool:
        """The health check's status as Route 53 reports it."""
        with self._lock:
            return self._check(region).healthy

    def healthy_checkers(self, region: str) -> int:
        with self._lock:
            return self._check(region).healthy_checkers()

    def answer(self) -> AnswerChanged:
        """Route 53's current answer for the failover name."""
        with self._lock:
            assert self._answer is not None  # set in __init__
            return self._answer

    def client(self, *, age: float = 0.0) -> CachingResolver:
        """A client resolving the failover name through a cache with the record's TTL (each
        lookup reads Route 53's answer at the lookup's time from the timeline); ``age``: see
        :class:`CachingResolver`."""

        def lookup(now: float) -> str:
            answer = self.timeline.answer_at(now)
            return (answer or self.answer()).target

        return CachingResolver(self.ttl, lookup, age=age)

    # --- operator settings (the drain changes the path) ---

    def resource_path(self, region: str) -> str:
        """The path the region's checkers request now."""
        with self._lock:
            return urlsplit(self._check(region).endpoint.url).path or "/"

    def set_resource_path(self, region: str, path: str, *, at: float | None = None) -> None:
        """``UpdateHealthCheck`` with a new ``ResourcePath``: the checkers' next requests ask
        for ``path``; their views and streaks carry on (a failing path flips them after
        ``failure_threshold`` results, as any failure does)."""
        if not path.startswith("/"):
            raise ValueError(f"path: {path!r} must start with /")
        now = self._clock() if at is None else at
        with self._lock:
            check = self._check(region)
            parts = urlsplit(check.endpoint.url)
            url = f"{parts.scheme}://{parts.netloc}{path}"
            check.endpoint = dataclasses.replace(check.endpoint, url=url)
            self.timeline.append(
                HealthCheckSettingChanged(now, region, check.inverted, check.disabled, path)
            )

    def set_inverted(self, region: str, inverted: bool, *, at: float | None = None) -> None:
        self._set(region, at, inverted=inverted)

    def set_disabled(self, region: str, disabled: bool, *, at: float | None = None) -> None:
        self._set(region, at, disabled=disabled)

    def _set(self, region: str, at: float | None, **flags: bool) -> None:
        now = self._clock() if at is None else at
        with self._lock:
            check = self._check(region)
            for name, value in flags.items():
                setattr(check, name, value)
            self.timeline.append(
                HealthCheckSettingChanged(now, region, check.inverted, check.disabled)
            )
            self._refresh(check, now, next(iter(flags)))

    # --- stepped ---

    def next_due(self) -> float:
        """When the next request is sent or result arrives (stepped mode)."""
        with self._lock:
            return min(self._due(c) for check in self._checks.values() for c in check.checkers)

    def step(self, now: float | None = None) -> None:
        """Run every request and result due at or before ``now`` (default: the clock)."""
        until = self._clock() if now is None else now
        while True:
            with self._lock:
                checks = list(self._checks.values())
                due, i, j = min(
                    (self._due(c), i, j)
                    for i, ch in enumerate(checks)
                    for j, c in enumerate(ch.checkers)
                )
                if due > until:
                    return
                health_check, state = checks[i], checks[i].checkers[j]
                if state.in_flight is not None:
                    done, request, outcome = state.in_flight
                    state.in_flight = None
                    self._apply(health_check, state, request, outcome, done)
                    state.next_send = done + self.settings.interval
                    continue
                if health_check.disabled:  # Route 53 stops sending requests
                    state.next_send = due + self.settings.interval
                    continue
                request = self._request(health_check, state, due)
            outcome = self._probe(request)
            with self._lock:
                state.in_flight = (due + outcome.elapsed, request, outcome)

    # --- threaded ---

    def start(self) -> None:
        """Probe the endpoints on background threads, one per checker, until ``stop()``."""
        with self._lock:
            if any(check.threads for check in self._checks.values()):
                raise RuntimeError("the prober is already running")
            self._stop.clear()
            for check in self._checks.values():
                for state in check.checkers:
                    thread = threading.Thread(
                        target=self._run_checker,
                        args=(check, state),
                        name=f"route53-model {check.endpoint.region} {state.name}",
                        daemon=True,
                    )
                    check.threads.append(thread)
            threads = [t for check in self._checks.values() for t in check.threads]
        for thread in threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the background threads (waits for requests in flight, at most ``timeout``)."""
        self._stop.set()
        with self._lock:
            threads = [t for check in self._checks.values() for t in check.threads]
            for check in self._checks.values():
                check.threads = []
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> Prober:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _run_checker(self, check: _HealthCheck, state: _Checker) -> None:
        while not self._stop.wait(max(0.0, state.next_send - self._clock())):
            sent = self._clock()
            with self._lock:
                if check.disabled:
                    state.next_send = sent + self.settings.interval
                    continue
                request = self._request(check, state, sent)
            outcome = self._probe(request)
            done = self._clock()
            with self._lock:
                self._apply(check, state, request, outcome, done)
                state.next_send = done + self.settings.interval

    # --- the rules ---

    def _check(self, region: str) -> _HealthCheck:
        try:
            return self._checks[region]
        except KeyError:
            raise ValueError(f"region: {region!r} is not one of {list(self._checks)}") from None

    @staticmethod
    def _due(state: _Checker) -> float:
        return state.in_flight[0] if state.in_flight is not None else state.next_send

    def _request(self, check: _HealthCheck, state: _Checker, sent: float) -> ProbeRequest:
        return ProbeRequest(
            url=check.endpoint.url,
            sent_at=sent,
            region=check.endpoint.region,
            checker=state.name,
            connect_timeout=self.settings.connect_timeout,
            response_timeout=self.settings.response_timeout,
        )

    def _apply(
        self,
        check: _HealthCheck,
        state: _Checker,
        request: ProbeRequest,
        outcome: ProbeOutcome,
        done: float,
    ) -> None:
        # A result that agrees with the checker's view resets the streak; failure_threshold
        # disagreeing results in a row flip the view.
        flipped = False
        if outcome.ok is state.healthy:
            state.streak = 0
        else:
            state.streak += 1
            if state.streak >= self.settings.failure_threshold:
                state.healthy, state.streak, flipped = outcome.ok, 0, True
        self.timeline.append(
            CheckerResult(
                time=done,
                region=check.endpoint.region,
                checker=state.name,
                sent_at=request.sent_at,
                ok=outcome.ok,
                status=outcome.status,
                elapsed=outcome.elapsed,
                error=outcome.error,
                checker_healthy=state.healthy,
                flipped=flipped,
            )
        )
        if flipped:
            self._refresh(check, done, "checkers")

    def _refresh(self, check: _HealthCheck, now: float, reason: str) -> None:
        healthy = check.status()
        if healthy is not check.healthy:
            check.healthy = healthy
            self._record_health(check, now, reason)
            self._update_answer(now)

    def _record_health(self, check: _HealthCheck, now: float, reason: str) -> None:
        self.timeline.append(
            HealthCheckChanged(
                time=now,
                region=check.endpoint.region,
                healthy=check.healthy,
                healthy_checkers=check.healthy_checkers(),
                checkers=len(check.checkers),
                reason=reason,
            )
        )

    def _update_answer(self, now: float) -> None:
        by_role = {c.endpoint.role: c for c in self._checks.values()}

        def health(role: Role) -> bool | None:
            check = by_role[role]
            return check.healthy if check.endpoint.health_checked else None

        role = failover_answer(health(Role.PRIMARY), health(Role.SECONDARY))
        if self._answer is not None and self._answer.role is role:
            return
        endpoint = by_role[role].endpoint
        self._answer = AnswerChanged(now, role, endpoint.region, endpoint.answer_target)
        self.timeline.append(self._answer)
