"""The lab's Route 53 model (tapstack_lab.route53_model) applies Route 53's documented
health-check and failover rules: fake clock and fake probes for the timing rules, real local
HTTP servers for the HTTP side."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tapstack.config import DnsConfig
from tapstack.failover.model import ALIAS_TTL_SECONDS as PROJECT_ALIAS_TTL
from tapstack.failover.model import FailoverModel
from tapstack_lab.route53_model import (
    ALIAS_TTL_SECONDS,
    AnswerChanged,
    CachingResolver,
    HealthCheckSettingChanged,
    HealthCheckSettings,
    ProbeOutcome,
    Prober,
    ProbeRequest,
    RegionEndpoint,
    Role,
    Window,
    aggregate_healthy,
    expected_client_switch_seconds,
    expected_detection_seconds,
    failover_answer,
    http_probe,
)

PRIMARY_URL = "http://127.0.0.1:8001/health"
SECONDARY_URL = "http://127.0.0.1:8002/health"
ENDPOINTS = (
    RegionEndpoint("us-east-1", Role.PRIMARY, PRIMARY_URL),
    RegionEndpoint("us-west-2", Role.SECONDARY, SECONDARY_URL),
)


@dataclass
class FakeEndpoints:
    """Endpoints that fail during given time ranges (by request send time); a failing request
    takes ``fail_seconds`` (0: connection refused, 6: a timeout)."""

    outages: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    fail_seconds: float = 0.0
    failing_checkers: set[str] | None = None  # None: every checker sees the outage
    requests: list[ProbeRequest] = field(default_factory=list)

    def down(self, url: str, start: float, end: float = float("inf")) -> None:
        self.outages.setdefault(url, []).append((start, end))

    def __call__(self, request: ProbeRequest) -> ProbeOutcome:
        self.requests.append(request)
        out = any(a <= request.sent_at < b for a, b in self.outages.get(request.url, []))
        if out and (self.failing_checkers is None or request.checker in self.failing_checkers):
            return ProbeOutcome(False, None, self.fail_seconds, "connection refused")
        return ProbeOutcome(True, 200, 0.0)


def prober(
    endpoints: FakeEndpoints,
    *,
    interval: float = 10,
    threshold: int = 3,
    checkers: int = 8,
    ttl: float = ALIAS_TTL_SECONDS,
) -> Prober:
    settings = HealthCheckSettings(
        interval=interval, failure_threshold=threshold, checkers=checkers
    )
    return Prober(ENDPOINTS, settings, ttl=ttl, probe=endpoints, clock=lambda: 0.0, start=0.0)


# --- the modelled figures ---------------------------------------------------------------------


def test_expected_detection_is_threshold_minus_one_to_threshold_intervals() -> None:
    assert expected_detection_seconds(10, 3) == Window(20, 30)
    assert expected_detection_seconds(30, 1) == Window(0, 30)
    assert str(expected_detection_seconds(10, 3)) == "20-30 s"


def test_expected_detection_adds_the_time_failing_requests_take() -> None:
    # Timeouts: each failing request takes 6 s, and the interval counts from its end.
    assert expected_detection_seconds(10, 3, probe_seconds=6) == Window(38, 48)


def test_expected_worst_case_matches_the_project_failover_model() -> None:
    model = FailoverModel(health_check_interval=10, failure_threshold=3)
    assert expected_detection_seconds(10, 3).latest == model.detection
    assert expected_client_switch_seconds(10, 3, ALIAS_TTL_SECONDS).latest == model.read_rto
    assert ALIAS_TTL_SECONDS == PROJECT_ALIAS_TTL


def test_settings_come_from_the_project_dns_configuration() -> None:
    dns = DnsConfig(
        domain_name="tapstack.example.com",
        health_check_interval_seconds=30,
        health_check_failure_threshold=2,
    )
    settings = HealthCheckSettings.from_dns(dns, checkers=6)
    assert (settings.interval, settings.failure_threshold, settings.checkers) == (30, 2, 6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"interval": 0}, r"interval: 0 must be > 0 seconds"),
        ({"failure_threshold": 11}, r"failure_threshold: 11 must be 1-10"),
        ({"checkers": 2}, r"checkers: 2 must be >= 3"),
        ({"response_timeout": 0}, r"response_timeout: 0 must be > 0"),
        ({"checkers": 3, "offsets": (0.0, 1.0)}, r"offsets: 2 given, one per checker \(3\)"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HealthCheckSettings(**kwargs)


def test_a_prober_needs_one_primary_and_one_secondary() -> None:
    both_primary = (ENDPOINTS[0], RegionEndpoint("us-west-2", Role.PRIMARY, SECONDARY_URL))
    with pytest.raises(ValueError, match=r"one PRIMARY and one SECONDARY needed"):
        Prober(both_primary, HealthCheckSettings(), probe=FakeEndpoints(), start=0.0)


# --- checkers and detection -------------------------------------------------------------------


@pytest.mark.parametrize(("interval", "threshold"), [(10, 3), (30, 3), (10, 1), (10, 5)])
@pytest.mark.parametrize("fail_at", [100.0, 103.3, 109.99])
def test_detection_takes_threshold_minus_one_to_threshold_intervals(
    interval: float, threshold: int, fail_at: float
) -> None:
    endpoints = FakeEndpoints()
    endpoints.down(PRIMARY_URL, fail_at)
    model = prober(endpoints, interval=interval, threshold=threshold)

    model.step(fail_at)
    assert model.healthy("us-east-1")
    model.step(fail_at + threshold * interval + interval)

    detection = model.timeline.detection_seconds("us-east-1", fail_at)
    window = expected_detection_seconds(interval, threshold)
    assert detection is not None
    assert window.earliest <= detection <= window.latest
    assert not model.healthy("us-east-1")
    assert model.healthy("us-west-2")


def test_each_checker_flips_after_threshold_consecutive_failures() -> None:
    endpoints = FakeEndpoints()
    endpoints.down(PRIMARY_URL, 100)
    model = prober(endpoints, checkers=3)  # offsets 0, 3.33, 6.67
    model.step(200)

    first = [r for r in model.timeline.checker_results("us-east-1") if r.checker == "us-east-1"]
    failures = [r for r in first if not r.ok]
    assert [r.time for r in failures[:3]] == [100, 110, 120]
    assert [r.checker_healthy for r in failures[:3]] == [True, True, False]
    assert [r.flipped for r in failures[:3]] == [False, False, True]


def test_one_success_between_failures_restarts_the_count() -> None:
    endpoints = FakeEndpoints()
    endpoints.down(PRIMARY_URL, 100, 115)  # fails at 100 and 110, succeeds at 120
    endpoints.down(PRIMARY_URL, 125, 145)  # fails at 130 and 140, succeeds at 150
    model = prober(endpoints)
    model.step(300)
    assert model.timeline.health_changes("us-east-1")[1:] == []
    assert model.timeline.answers()[1:] == []


def test_recovery_takes_threshold_minus_one_to_threshold_intervals() -> None:
    endpoints = FakeEndpoints()
    endpoints.down(PRIMARY_URL, 100, 204.5)
    model = prober(endpoints)
    model.step(400)

    recovery = model.timeline.recovery_seconds("us-east-1", 204.5)
    window = expected_detection_seconds(10, 3)
    assert recovery is not None
    assert window.earliest <= recovery <= window.latest
    assert model.healthy("us-east-1")


def test_the_interval_counts_from_the_end_of_a_timed_out_request() -> None:
    endpoints = FakeEndpoints(fail_seconds=6.0)
    endpoints.down(PRIMARY_URL, 100)
    model = prober(endpoints, checkers=3)
    model.step(300)

    sent = [
        r.sent_at for r in endpoints.requests if r.url == PRIMARY_URL and r.checker == "us-east-1"
    ]
    assert sent[10:14] == [100, 116, 132, 148]
    detection = model.timeline.detection_seconds("us-east-1", 100)
    window = expected_detection_seconds(10, 3, probe_seconds=6)
    assert detection is not None and window.earliest <= detection <= window.latest


# --- the 18% rule -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("healthy", "checkers", "expected"),
    [
        (1, 6, False),  # 16.7% <= 18%
        (2, 6, True),  # 33% > 18%
        (0, 3, False),
        (1, 3, True),  # 33%
        (1, 8, False),  # 12.5%
        (2, 8, True),  # 25%
        (1, 5, True),  # 20%
        (9, 50, False),  # exactly 18%: not more than 18%
        (10, 50, True),
    ],
)
def test_healthy_when_more_than_18_percent_of_checkers_say_so(
    healthy: int, checkers: int, expected: bool
) -> None:
    assert aggregate_healthy(healthy, checkers) is expected


@pytest.mark.parametrize(("failing", "healthy_after"), [(5, False), (4, True)])
def test_a_health_check_follows_the_18_percent_rule_over_its_checkers(
    failing: int, healthy_after: bool
) -> None:
    names = HealthCheckSettings(checkers=6).checker_names()
    endpoints = FakeEndpoints(failing_checkers=set(names[:failing]))
    endpoints.down(PRIMARY_URL, 100)
    model = prober(endpoints, checkers=6)
    model.step(300)

    assert model.healthy_checkers("us-east-1") == 6 - failing
    assert model.healthy("us-east-1") is healthy_after


# --- invert and disable -----------------------------------------------------------------------


def test_inverting_a_healthy_check_makes_it_unhealthy_and_back() -> None:
    model = prober(FakeEndpoints())
    model.step(50)
    model.set_inverted("us-east-1", True, at=60)
    assert not model.healthy("us-east-1")
    assert model.answer().role is Role.SECONDARY
    model.step(100)
    assert not model.healthy("us-east-1")
    model.set_inverted("us-east-1", False, at=110)
    assert model.healthy("us-east-1")
    assert [a.role for a in model.timeline.answers()] == [
        Role.PRIMARY,
        Role.SECONDARY,
        Role.PRIMARY,
    ]
    assert [(c.time, c.healthy, c.reason) for c in model.timeline.health_changes("us-east-1")] == [
        (0, True, "initial"),
        (60, False, "inverted"),
        (110, True, "inverted"),
    ]


def test_an_inverted_check_on_a_failing_endpoint_is_healthy() -> None:
    endpoints = FakeEndpoints()
    endpoints.down(PRIMARY_URL, 100)
    model = prober(endpoints)
    model.set_inverted("us-east-1", True, at=0)
    model.step(200)
    assert model.healthy("us-east-1")
    assert model.answer().role is Role.PRIMARY


def test_a_disabled_check_is_healthy_and_sends_no_requests() -> None:
    endpoints = FakeEndpoints()
    endpoints.down(PRIMARY_URL, 0)
    model = prober(endpoints)
    model.set_disabled("us-east-1", True, at=0)
    model.step(200)
    assert model.healthy("us-east-1")
    assert not [r for r in endpoints.requests if r.url == PRIMARY_URL]
    assert [r for r in endpoints.requests if r.url == SECONDARY_URL]


def test_a_disabled_and_inverted_check_is_unhealthy() -> None:
    model = prober(FakeEndpoints())
    model.set_disabled("us-east-1", True, at=5)
    model.set_inverted("us-east-1", True, at=6)
    assert not model.healthy("us-east-1")
    assert model.answer().role is Role.SECONDARY


# --- the drain: a resource path the server never serves ----------------------------------------

DRAINED_URL = "http://127.0.0.1:8001/tapstack-drained"


def test_a_drained_check_turns_unhealthy_within_the_threshold_and_back_once_restored() -> None:
    # UpdateHealthCheck's ResourcePath: the checkers request the new path from then on.
    # https://docs.aws.amazon.com/Route53/latest/APIReference/API_UpdateHealthCheck.html
    endpoints = FakeEndpoints()
    endpoints.down(DRAINED_URL, 0)  # the server never serves the drain path
    model = prober(endpoints)
    model.step(55)
    model.set_resource_path("us-east-1", "/tapstack-drained", at=60)
    assert model.resource_path("us-east-1") == "/tapstack-drained"
    model.step(150)
    detection = model.timeline.detection_seconds("us-east-1", 60)
    assert detection is not None
    assert detection <= expected_detection_seconds(10, 3).latest
    assert model.answer().role is Role.SECONDARY
    model.set_resource_path("us-east-1", "/health", at=150)
    model.step(250)
    assert model.healthy("us-east-1")
    assert model.answer().role is Role.PRIMARY
    assert [e.path for e in model.timeline if isinstance(e, HealthCheckSettingChanged)] == [
        "/tapstack-drained",
        "/health",
    ]


def test_a_drained_check_stays_unhealthy_when_its_endpoint_fails_too() -> None:
    endpoints = FakeEndpoints()
    endpoints.down(PRIMARY_URL, 0)
    endpoints.down(DRAINED_URL, 0)
    model = prober(endpoints)
    model.set_resource_path("us-east-1", "/tapstack-drained", at=0)
    model.step(200)
    assert not model.healthy("us-east-1")  # unlike an inverted check


def test_a_resource_path_must_be_absolute() -> None:
    with pytest.raises(ValueError, match=r"path: 'health' must start with /"):
        prober(FakeEndpoints()).set_resource_path("us-east-1", "health")


def test_an_unknown_region_is_refused() -> None:
    with pytest.raises(ValueError, match=r"region: 'eu-west-1' is not one of"):
        prober(FakeEndpoints()).set_inverted("eu-west-1", True)


# --- DNS failover -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("primary", "secondary", "answer"),
    [
        (True, True, Role.PRIMARY),
        (True, False, Role.PRIMARY),
        (False, True, Role.SECONDARY),
        (False, False, Role.PRIMARY),  # none healthy: all count as healthy
        (None, False, Role.PRIMARY),  # no health check: always healthy
        (False, None, Role.SECONDARY),
    ],
)
def test_failover_answer(primary: bool | None, secondary: bool | None, answer: Role) -> None:
    assert failover_answer(primary, secondary) is answer


def test_the_answer_goes_primary_secondary_primary_with_the_primary_health() -> None:
    endpoints = FakeEndpoints()
    endpoints.down(PRIMARY_URL, 100, 300)
    model = prober(endpoints)
    model.step(500)

    answers = model.timeline.answers()
    assert [(a.role, a.region, a.target) for a in answers] == [
        (Role.PRIMARY, "us-east-1", "http://127.0.0.1:8001"),
        (Role.SECONDARY, "us-west-2", "http://127.0.0.1:8002"),
        (Role.PRIMARY, "us-east-1", "http://127.0.0.1:8001"),
    ]
    changes = model.timeline.health_changes("us-east-1")
    assert [c.time for c in changes[1:]] == [a.time for a in answers[1:]]
    assert model.timeline.switch_seconds(Role.SECONDARY, 100) == (
        model.timeline.detection_seconds("us-east-1", 100)
    )


def test_both_unhealthy_answers_with_the_primary() -> None:
    endpoints = FakeEndpoints()
    endpoints.down(PRIMARY_URL, 100)
    endpoints.down(SECONDARY_URL, 200)
    model = prober(endpoints)
    model.step(400)

    assert not model.healthy("us-east-1") and not model.healthy("us-west-2")
    assert [a.role for a in model.timeline.answers()] == [
        Role.PRIMARY,
        Role.SECONDARY,
        Role.PRIMARY,
    ]
    assert model.answer().role is Role.PRIMARY


def test_a_secondary_without_health_check_takes_over_even_when_down() -> None:
    endpoints = FakeEndpoints()
    endpoints.down(PRIMARY_URL, 100)
    endpoints.down(SECONDARY_URL, 0)
    unchecked = (
        ENDPOINTS[0],
        RegionEndpoint("us-west-2", Role.SECONDARY, SECONDARY_URL, health_checked=False),
    )
    model = Prober(unchecked, HealthCheckSettings(interval=10), probe=endpoints, start=0.0)
    model.step(400)
    assert model.answer().role is Role.SECONDARY


# --- clients and their caches -----------------------------------------------------------------


def test_a_client_keeps_its_cached_answer_until_the_ttl_ends() -> None:
    endpoints = FakeEndpoints()
    endpoints.down(PRIMARY_URL, 100)
    model = prober(endpoints, ttl=60)
    model.step(400)
    switched = model.timeline.answer_switched(Role.SECONDARY, 100)
    assert switched is not None

    client = model.client()
    cached_at = switched.time - 1
    assert client.resolve(cached_at) == "http://127.0.0.1:8001"
    assert client.resolve(switched.time) == "http://127.0.0.1:8001"
    assert client.resolve(cached_at + 59.999) == "http://127.0.0.1:8001"
    assert client.resolve(cached_at + 60) == "http://127.0.0.1:8002"
    assert client.expires == cached_at + 120


def test_the_worst_case_client_switch_is_the_answer_switch_plus_the_ttl() -> None:
    endpoints = FakeEndpoints()
    endpoints.down(PRIMARY_URL, 100)
    model = prober(endpoints, ttl=60)
    model.step(400)
    switch = model.timeline.switch_seconds(Role.SECONDARY, 100)
    client_switch = model.timeline.client_switch_seconds(Role.SECONDARY, 100, 60)
    assert switch is not None and client_switch == switch + 60
    assert client_switch <= expected_client_switch_seconds(10, 3, 60).latest


def test_a_continuously_resolving_client_sees_the_answer_of_its_last_refresh() -> None:
    endpoints = FakeEndpoints()
    endpoints.down(PRIMARY_URL, 100)
    model = prober(endpoints, ttl=60)
    model.step(400)
    switched = model.timeline.answer_switched(Role.SECONDARY, 100)
    assert switched is not None

    # Refreshes at 0, 60, 120, 180: the one after the switch (~125-130) is at 180.
    seen = model.timeline.client_answer_at
    assert switched.time < 180
    assert seen(179.9, 60, first_query=0) == model.timeline.answer_at(120)
    assert isinstance(seen(180, 60, first_query=0), AnswerChanged)
    assert seen(180, 60, first_query=0).role is Role.SECONDARY  # type: ignore[union-attr]
    assert seen(-1, 60, first_query=0) is None


def test_a_resolver_primed_with_an_age_expires_its_first_answer_that_much_sooner() -> None:
    answers = iter(["a", "b", "c"])
    client = CachingResolver(60, lambda _now: next(answers), age=20)
    assert client.resolve(100) == "a"
    assert client.expires == 140
    assert client.resolve(140) == "b"
    assert client.expires == 200  # later answers are kept for the whole TTL


def test_a_resolver_age_beyond_the_ttl_is_refused() -> None:
    with pytest.raises(ValueError, match=r"age: 61 must be between 0 and the ttl 60"):
        CachingResolver(60, lambda _now: "a", age=61)


def test_a_resolver_with_a_zero_ttl_asks_every_time() -> None:
    answers = iter(["a", "b"])
    client = CachingResolver(0, lambda _now: next(answers))
    assert [client.resolve(1), client.resolve(1)] == ["a", "b"]


# --- the HTTP side, against real local servers ------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, delay = self.server.reply  # type: ignore[attr-defined]
        time.sleep(delay)
        self.send_response(status)
        if 300 <= status < 400:
            self.send_header("Location", "http://127.0.0.1:9/elsewhere")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.reply = (200, 0.0)  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def url(httpd: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{httpd.server_address[1]}/health"


def request(target: str, response_timeout: float = 2.0) -> ProbeRequest:
    return ProbeRequest(target, 0.0, "us-east-1", "us-east-1", 4.0, response_timeout)


@pytest.mark.parametrize(
    ("status", "ok"),
    [(200, True), (204, True), (301, True), (399, True), (404, False), (503, False)],
)
def test_2xx_and_3xx_pass_and_other_statuses_fail(
    server: ThreadingHTTPServer, status: int, ok: bool
) -> None:
    server.reply = (status, 0.0)  # type: ignore[attr-defined]
    outcome = http_probe(request(url(server)))
    assert (outcome.ok, outcome.status) == (ok, status)


def test_a_status_after_the_response_timeout_fails(server: ThreadingHTTPServer) -> None:
    server.reply = (200, 0.5)  # type: ignore[attr-defined]
    outcome = http_probe(request(url(server), response_timeout=0.2))
    assert not outcome.ok
    assert outcome.error is not None and outcome.error.startswith("response:")
    assert 0.19 <= outcome.elapsed < 0.5


def test_a_refused_connection_fails() -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), Handler) as closed:
        target = url(closed)
    outcome = http_probe(request(target))
    assert not outcome.ok and outcome.status is None
    assert outcome.error is not None and outcome.error.startswith("connect:")


def test_a_non_http_url_is_refused() -> None:
    with pytest.raises(ValueError, match=r"url: 'ftp://x/health' is not an http"):
        http_probe(request("ftp://x/health"))


def test_the_model_detects_a_real_endpoint_failing(server: ThreadingHTTPServer) -> None:
    secondary = FakeEndpoints()
    endpoints = (
        RegionEndpoint("us-east-1", Role.PRIMARY, url(server)),
        RegionEndpoint("us-west-2", Role.SECONDARY, SECONDARY_URL),
    )

    def probe(req: ProbeRequest) -> ProbeOutcome:
        return http_probe(req) if req.url == url(server) else secondary(req)

    settings = HealthCheckSettings(interval=10, failure_threshold=2, checkers=3)
    model = Prober(endpoints, settings, probe=probe, clock=lambda: 0.0, start=0.0)
    model.step(50)
    assert model.healthy("us-east-1")
    server.reply = (503, 0.0)  # type: ignore[attr-defined]
    model.step(80)
    assert not model.healthy("us-east-1")
    assert model.answer().role is Role.SECONDARY
    statuses = {r.status for r in model.timeline.checker_results("us-east-1")}
    assert statuses == {200, 503}


def test_background_threads_probe_the_real_endpoint_until_stopped(
    server: ThreadingHTTPServer,
) -> None:
    endpoints = (
        RegionEndpoint("us-east-1", Role.PRIMARY, url(server)),
        RegionEndpoint("us-west-2", Role.SECONDARY, url(server) + "?secondary"),
    )
    settings = HealthCheckSettings(interval=0.02, failure_threshold=2, checkers=3)
    model = Prober(endpoints, settings)
    with model:
        failed_at = time.monotonic()
        server.reply = (500, 0.0)  # type: ignore[attr-defined]
        deadline = failed_at + 5
        while any(model.healthy(r) for r in model.regions) and time.monotonic() < deadline:
            time.sleep(0.01)
    assert not model.healthy("us-east-1") and not model.healthy("us-west-2")
    assert model.answer().role is Role.PRIMARY  # both down: the PRIMARY
    detection = model.timeline.detection_seconds("us-east-1", failed_at)
    assert detection is not None and detection < 2
    count = len(model.timeline.checker_results())
    time.sleep(0.1)
    assert len(model.timeline.checker_results()) == count  # stopped
