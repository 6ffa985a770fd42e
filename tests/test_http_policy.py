"""The one HTTP policy on a fake clock: limits, waits and retries with no wall-clock sleeping."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from smbml_connect.credentials import Secret
from smbml_connect.errors import ApiError, AuthError, SmbmlError, SourceRetriableError
from smbml_connect.http import Failure, HttpCaller, HttpPolicy, RateLimiter, Window, retry_after
from smbml_connect.store import Store, now_text
from smbml_connect.testing.clock import FakeClock


class Boom(Exception):
    """A vendor exception: a status, a body, headers (or no status: no answer)."""

    def __init__(self, status: int | None, body: str = "", **headers: str) -> None:
        super().__init__(f"HTTP {status}")
        self.status, self.body, self.headers = status, body, headers


class Service:
    name = "Testing API"

    def __init__(self, rate_wait: float = 2.5) -> None:
        self.wait = rate_wait

    def failure(self, exc: Exception) -> Failure | SmbmlError | None:
        if not isinstance(exc, Boom):
            return None
        return Failure(exc.status, exc.body, exc.headers, reason="ConnectionResetError")

    def rate_wait(self, failure: Failure, window: str, attempt: int) -> float:
        if "DAILY" in failure.body:
            raise SourceRetriableError("the daily limit is used up; run again tomorrow")
        return self.wait

    def refused(self, failure: Failure, what: str) -> SmbmlError:
        if failure.status == 401:
            return AuthError("the token was refused; run `smbml auth`")
        return ApiError(self.name, failure.status or 0, what, failure.body, advice="fix it")


def answers(*outcomes: Exception | str) -> tuple[list[float], object]:
    """A request that fails with each exception in turn, then answers."""
    sent: list[float] = []
    queue = list(outcomes)

    def send() -> str:
        sent.append(0.0)
        head = queue.pop(0)
        if isinstance(head, Exception):
            raise head
        return head

    return sent, send


def caller(clock: FakeClock, attempts: int = 6, **service: float) -> HttpCaller:
    policy = HttpPolicy(
        windows={"default": Window(100, 10.0), "search": Window(5, 1.0)},
        attempts=attempts,
        backoff_base=0.5,
        backoff_cap=30.0,
    )
    return HttpCaller(Service(**service), policy, clock)


# -- the limiter ----------------------------------------------------------------------
def test_the_limiter_spaces_a_burst_into_windows_on_the_clock() -> None:
    clock = FakeClock()
    limiter = RateLimiter(100, 10.0, clock)
    stamps = []
    for _ in range(250):
        limiter.acquire()
        stamps.append(clock.monotonic())
    # never more than 100 in any 10 s; the 2% slack makes each window 10.2 s
    assert all(stamps[i + 100] - stamps[i] >= 10.0 for i in range(150))
    assert stamps[99] == 0.0 and stamps[100] == pytest.approx(10.2)
    assert clock.monotonic() == pytest.approx(20.4) and limiter.waited == pytest.approx(20.4)


def test_a_block_holds_every_thread_for_the_servers_wait() -> None:
    clock = FakeClock()
    limiter = RateLimiter(100, 10.0, clock)
    limiter.acquire()
    limiter.block(7.0)
    done: list[float] = []
    threads = [threading.Thread(target=lambda: (limiter.acquire(), done.append(clock.monotonic())))
               for _ in range(4)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    assert len(done) == 4 and min(done) >= 7.0


def test_threads_sharing_a_limiter_stay_inside_the_window() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10, 1.0, clock)
    stamps: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(25):
            limiter.acquire()
            with lock:
                stamps.append(clock.monotonic())

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    stamps.sort()
    assert len(stamps) == 100
    assert all(stamps[i + 10] - stamps[i] >= 1.0 for i in range(90))


# -- retries ----------------------------------------------------------------------------
def test_a_429_waits_retry_after_and_blocks_the_window() -> None:
    clock = FakeClock()
    api = caller(clock)
    sent, send = answers(Boom(429, "{}", **{"Retry-After": "7"}), "ok")
    assert api.call("listing", send) == "ok"
    assert len(sent) == 2 and api.retries == 1 and api.waited_on_429 == 7.0
    assert clock.monotonic() >= 7.0  # the limiter held the retry, not a backoff
    assert api.limiters["search"].waited == 0.0  # other windows are not held


def test_retry_after_may_be_an_http_date() -> None:
    clock = FakeClock()
    later = format_datetime(clock.now() + timedelta(seconds=30), usegmt=True)
    assert retry_after(Failure(503, headers={"retry-after": later}), clock) == 30.0
    assert retry_after(Failure(503, headers={"Retry-After": "soon"}), clock) is None
    assert retry_after(Failure(503), clock) is None


def test_a_429_without_a_hint_takes_the_services_wait() -> None:
    clock = FakeClock()
    api = caller(clock, rate_wait=2.5)
    _, send = answers(Boom(429, "{}"), Boom(429, "{}"), "ok")
    assert api.call("searching", send, "search") == "ok"
    assert api.waited_on_429 == 5.0 and clock.monotonic() >= 5.0


def test_5xx_and_drops_get_growing_random_pauses_up_to_the_cap() -> None:
    clock = FakeClock()
    api = caller(clock, attempts=12)
    failures = [Boom(502) if i % 2 else Boom(None) for i in range(11)]
    _, send = answers(*failures, "ok")
    assert api.call("reading", send) == "ok"
    assert api.retries == 11 and len(clock.slept) == 11
    ceilings = [min(30.0, 0.5 * 2**i) for i in range(11)]
    assert all(0 <= s <= c for s, c in zip(clock.slept, ceilings, strict=True))
    assert sum(clock.slept[6:]) > sum(clock.slept[:4])  # random, yet growing (~1e-9 to fail)


def test_5xx_honours_retry_after() -> None:
    clock = FakeClock()
    _, send = answers(Boom(503, "", **{"Retry-After": "12"}), "ok")
    assert caller(clock).call("reading", send) == "ok"
    assert clock.slept == [12.0]


def test_an_outage_gives_up_after_the_attempts_with_what_to_do() -> None:
    clock = FakeClock()
    api = caller(clock, attempts=4)
    _, send = answers(*[Boom(None)] * 4)
    with pytest.raises(SourceRetriableError, match="after 4 attempts") as caught:
        api.call("listing contacts", send)
    assert "run again later" in str(caught.value) and "listing contacts" in str(caught.value)
    assert len(clock.slept) == 3 and api.requests == 4


def test_a_refusal_is_final_with_status_redacted_body_and_advice() -> None:
    clock = FakeClock()
    token = Secret("pat-na1-12345678-aaaa-4bbb-8ccc-1234567890ab")
    body = f'{{"message": "bad value", "echo": "{token.reveal()}"}}'
    api = caller(clock)
    _, send = answers(Boom(400, body))
    with pytest.raises(ApiError) as caught:
        api.call("updating deals", send)
    error = caught.value
    assert error.status == 400 and "fix it" in str(error) and "updating deals" in str(error)
    assert token.reveal() not in error.body and token.reveal() not in str(error)
    assert "bad value" in error.body and api.retries == 0 and clock.slept == []
    _, send = answers(Boom(401))
    with pytest.raises(AuthError):
        api.call("checking", send)


def test_a_service_may_stop_on_a_429_and_other_bugs_pass_through() -> None:
    clock = FakeClock()
    api = caller(clock)
    _, send = answers(Boom(429, '{"policyName": "DAILY"}'))
    with pytest.raises(SourceRetriableError, match="daily"):
        api.call("listing", send)
    _, send = answers(TypeError("a bug, not the network"))
    with pytest.raises(TypeError):
        api.call("listing", send)
    assert api.retries == 0


# -- timestamps ---------------------------------------------------------------------------
def test_the_store_stamps_with_its_clock(tmp_path) -> None:
    clock = FakeClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    assert now_text(clock) == "2026-03-01T12:00:00.000000Z"
    with Store(tmp_path / "s.sqlite", clock=clock) as store:
        run = store.start_run("test", "files")
        clock.advance(90)
        store.finish_run(run, "ok", {}, None)
        row = store.runs(1).iloc[0]
    assert str(row["started_at"]).startswith("2026-03-01T12:00:00")
    assert str(row["finished_at"]).startswith("2026-03-01T12:01:30")


def test_the_clients_older_sleep_keyword_still_waits_with_it() -> None:
    from smbml_connect.connectors.hubspot.http import HubSpotApi, Limits

    slept: list[float] = []
    api = HubSpotApi(Secret("pat-na1-00000000-0000-4000-8000-000000000000"),
                     host="http://127.0.0.1:9", limits=Limits(attempts=3), sleep=slept.append)  # fmt: skip

    def dropped(**_: object) -> None:
        raise ConnectionResetError("dropped")

    with pytest.raises(SourceRetriableError, match="HubSpot kept failing on listing"):
        api.call("listing", dropped)
    assert len(slept) == 2 and api.requests == 3 and api.retries == 2


def test_429s_are_retried_until_the_total_wait_not_a_count_of_attempts() -> None:
    clock = FakeClock()
    policy = HttpPolicy(windows={"default": Window(100, 10.0)}, attempts=3, max_wait=60.0)
    api = HttpCaller(Service(rate_wait=10.0), policy, clock)
    _, send = answers(*[Boom(429, "{}")] * 6, "ok")  # six 429s: more than 3 attempts
    assert api.call("listing", send) == "ok" and api.waited_on_429 == 60.0
    _, never = answers(*[Boom(429, "{}")] * 50)
    with pytest.raises(SourceRetriableError, match=r"too many requests.* for 60 seconds"):
        api.call("listing", never)
    _, broken = answers(*[Boom(503, "{}")] * 3, "ok")  # 5xx still stop on attempts
    with pytest.raises(SourceRetriableError, match="after 3 attempts"):
        api.call("listing", broken)


def test_two_processes_on_one_token_share_the_window_through_a_file(tmp_path) -> None:
    clock = FakeClock()
    first = RateLimiter(100, 10.0, clock, tmp_path / "account.json")
    second = RateLimiter(100, 10.0, clock, tmp_path / "account.json")  # another process
    for _ in range(100):
        first.acquire()
    assert clock.monotonic() == 0.0
    second.acquire()  # the window is full of the first one's requests: it waits
    assert clock.monotonic() == pytest.approx(10.2)
    first.block(30.0)  # a 429 seen by one holds the other
    second.acquire()
    assert clock.monotonic() == pytest.approx(40.2)


def test_clients_of_one_account_in_a_process_share_one_limiter() -> None:
    from smbml_connect.connectors.hubspot.http import HubSpotApi

    clock = FakeClock()
    a = HubSpotApi(Secret("pat-one"), host="http://127.0.0.1:9", clock=clock)
    b = HubSpotApi(Secret("pat-one"), host="http://127.0.0.1:9", clock=clock)
    c = HubSpotApi(Secret("pat-two"), host="http://127.0.0.1:9", clock=clock)
    assert a.limiter is b.limiter and a.search_limiter is b.search_limiter
    assert c.limiter is not a.limiter
