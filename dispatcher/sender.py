"""One signed POST: the envelope, the Standard Webhooks headers, no redirects, a total time limit, and no
more of the answer read than the cap."""

from __future__ import annotations

import asyncio
import time

import httpx

from dispatcher.queue import Claim, Outcome
from webhooks.signing import signed_headers
from webhooks.urls import UrlRefused, check_url

USER_AGENT = "iot-billing-webhooks/1"


async def _read_capped(response: httpx.Response, cap: int) -> bytes:
    kept = bytearray()
    async for chunk in response.aiter_raw():
        kept.extend(chunk)
        if len(kept) >= cap:
            break
    return bytes(kept[:cap])


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


async def send(
    client: httpx.AsyncClient, claim: Claim, *, time_limit: float, cap: int, allow_private: bool
) -> Outcome:
    started = time.monotonic()

    def elapsed_ms() -> int:
        return int((time.monotonic() - started) * 1000)

    if not allow_private:
        # Checked again at each send: a name may resolve elsewhere now than when it was registered.
        try:
            await asyncio.to_thread(check_url, claim.url, allow_private=False)
        except UrlRefused as refused:
            return Outcome(status_code=None, latency_ms=elapsed_ms(), error=f"refused: {refused.reason}")
    body = claim.envelope.body()
    headers = signed_headers(
        claim.secrets, message_id=claim.envelope.id, timestamp=int(time.time()), body=body
    )
    headers["user-agent"] = USER_AGENT
    try:
        async with asyncio.timeout(time_limit):
            request = client.build_request("POST", claim.url, content=body, headers=headers)
            response = await client.send(request, stream=True, follow_redirects=False)
            try:
                answer = await _read_capped(response, cap)
            finally:
                await response.aclose()
    except (TimeoutError, httpx.TimeoutException):
        return Outcome(status_code=None, latency_ms=elapsed_ms(), error=f"timed out after {time_limit:g}s")
    except httpx.HTTPError as error:
        return Outcome(status_code=None, latency_ms=elapsed_ms(), error=_describe(error))
    status = response.status_code
    if 200 <= status < 300:
        return Outcome(status_code=status, latency_ms=elapsed_ms(), error=None)
    snippet = answer[:200].decode(errors="replace").strip()
    return Outcome(
        status_code=status,
        latency_ms=elapsed_ms(),
        error=f"HTTP {status}" + (f": {snippet}" if snippet else ""),
    )
