"""CSRF tokens on every POST, and the per-client token buckets."""

from __future__ import annotations

import pytest

from fw_platform.ratelimit import TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_a_burst_then_refills_evenly() -> None:
    clock = Clock()
    bucket = TokenBucket(6, clock=clock)  # 6 per minute: one every 10 s
    assert [bucket.take("a") for _ in range(6)] == [None] * 6
    wait = bucket.take("a")
    assert wait == pytest.approx(10.0)
    assert bucket.take("b") is None  # per key
    clock.now += 10
    assert bucket.take("a") is None
    assert bucket.take("a") is not None


def test_token_bucket_forgets_old_keys_to_bound_memory() -> None:
    bucket = TokenBucket(1, clock=Clock(), max_keys=2)
    for key in ("a", "b", "c"):
        assert bucket.take(key) is None
    assert bucket.take("a") is None  # fell out: full bucket again
    assert bucket.take("c") is not None


def test_token_bucket_needs_a_rate() -> None:
    with pytest.raises(ValueError, match="per_minute must be at least 1"):
        TokenBucket(0)


FORM = {"company": "Beispiel GmbH", "contact_name": "Erika Musterfrau", "phone": "030 1234567",
        "customer_type": "business", "terms_accepted": "on", "terms_version": "2026-01"}


async def test_post_without_or_with_a_wrong_csrf_token_is_refused(web) -> None:
    await web.client.get("/")  # has a session, but does not send its token
    for data in (FORM, {**FORM, "csrf_token": "x" * 43}):
        resp = await web.client.post("/", data=data)
        assert resp.status_code == 403 and "Formular abgelaufen" in resp.text
    assert web.services.created == []
    resp = await web.post_form("/", "/", FORM)
    assert resp.status_code == 303 and len(web.services.created) == 1


async def test_a_token_of_another_session_is_refused(web) -> None:
    other = await web.make_client()
    token = web.csrf_of((await other.get("/")).text)
    await web.client.get("/")
    resp = await web.client.post("/", data={**FORM, "csrf_token": token})
    assert resp.status_code == 403


async def test_sign_in_itself_needs_the_token_and_rotates_it(web) -> None:
    page = await web.client.get("/anmelden")
    before = web.csrf_of(page.text)
    resp = await web.client.post("/anmelden", data={"username": "technik", "password": web.passwords["technik"]})
    assert resp.status_code == 403
    await web.sign_in("technik")
    after = web.csrf_of((await web.client.get("/technik")).text)
    assert after != before  # a new session on sign-in: a token seen before is worthless


async def test_technician_actions_need_the_token(web) -> None:
    web.services.queue = [{"request_id": "00000000-0000-0000-0000-000000000009", "ticket": "AB12-CD3",
                           "customer_type": "business", "created_at": "2026-05-04T09:58:00Z", "waiting_seconds": 3,
                           "company": "Beispiel GmbH", "contact_name": "Erika", "phone": "+4930123456"}]
    await web.sign_in("technik")
    resp = await web.client.post("/technik/sitzungen", data={"request_id": "00000000-0000-0000-0000-000000000009"})
    assert resp.status_code == 403 and web.services.sessions == {}
    sign_out = await web.client.post("/abmelden", data={})
    assert sign_out.status_code == 403


async def test_the_public_form_is_rate_limited_per_client(web) -> None:
    client = await web.make_client(form_rate_per_minute=2)
    token = web.csrf_of((await client.get("/")).text)
    codes = [(await client.post("/", data={**FORM, "csrf_token": token})).status_code for _ in range(3)]
    assert codes == [303, 303, 429]
    limited = await client.post("/", data={**FORM, "csrf_token": token})
    assert "Retry-After" in limited.headers and "warten" in limited.text
    assert len(web.services.created) == 2
