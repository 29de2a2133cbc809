"""The LINE gateway: the only place that talks to LINE's Messaging API, through the SDK."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
import urllib3
from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    AsyncApiClient,
    Configuration,
    MessagingApi,
    MessagingApiBlob,
    ShowLoadingAnimationRequest,
)
from linebot.v3.messaging.async_rest import RESTResponse as AsyncRESTResponse
from linebot.v3.messaging.rest import RESTResponse

from bot.config import Settings
from handlers.messages import wire_json


@dataclass(frozen=True)
class SendOutcome:
    """What happened to one delivery attempt, in terms the outbox can act on."""

    ok: bool
    retryable: bool = False
    reply_token_invalid: bool = False
    retry_after: float | None = None
    error: str = ""  # status and LINE's short message; never the message content


class ContentUnavailable(Exception):
    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.retryable = retryable


def _retry_after(exc: ApiException) -> float | None:
    headers = exc.headers or {}
    raw = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


CONTENT_CHUNK = 64 * 1024
TOO_LARGE = "content larger than the limit"


def _read_limited(response: Any, max_bytes: int) -> bytes:
    """The body of a streamed urllib3 response, or ContentUnavailable once over the limit."""
    if response.status == 202:  # LINE is still preparing the content
        raise ContentUnavailable("content not ready yet", retryable=True)
    encoding = (response.headers.get("Content-Encoding") or "identity").strip().lower()
    if encoding != "identity":
        raise ContentUnavailable("content sent encoded", retryable=False)
    declared = response.headers.get("Content-Length")
    if declared is not None and (not declared.strip().isdigit() or int(declared) > max_bytes):
        raise ContentUnavailable(TOO_LARGE, retryable=False)
    chunks: list[bytes] = []
    total = 0
    try:
        for chunk in response.stream(CONTENT_CHUNK, decode_content=False):
            total += len(chunk)
            if total > max_bytes:
                raise ContentUnavailable(TOO_LARGE, retryable=False)
            chunks.append(chunk)
    except ContentUnavailable:
        raise
    except Exception as exc:  # noqa: BLE001 - a broken transfer is tried again later
        raise ContentUnavailable(_describe(exc), retryable=True) from exc
    return b"".join(chunks)


def _body(fields: dict[str, Any], messages: bytes) -> bytes:
    """``wire_json({**fields, "messages": …})`` around messages serialised when they were
    queued: a send serialises only its address."""
    return wire_json(fields)[:-1] + b',"messages":' + messages + b"}"


def _describe(exc: Exception) -> str:
    if isinstance(exc, ApiException):
        return f"HTTP {exc.status} {exc.reason or ''}".strip()
    return type(exc).__name__


REPLY = "/v2/bot/message/reply"
PUSH = "/v2/bot/message/push"
MULTICAST = "/v2/bot/message/multicast"
# Sends one web process may have in flight at once on its asynchronous pool; more wait
# their turn there, not in threads.
ASYNC_CONNECTIONS = 64


def _reply_outcome(exc: Exception | None) -> SendOutcome:
    if exc is None:
        return SendOutcome(ok=True)
    if isinstance(exc, ApiException):
        invalid = exc.status == 400 and "reply token" in str(exc.body or "").lower()
        return _failure(exc, reply_token_invalid=invalid)
    return SendOutcome(ok=False, retryable=True, error=_describe(exc))  # transport: retried


def _keyed_outcome(exc: Exception | None) -> SendOutcome:
    if exc is None:
        return SendOutcome(ok=True)
    if isinstance(exc, ApiException):
        if exc.status == 409:  # accepted before under this retry key: delivered once
            return SendOutcome(ok=True)
        return _failure(exc)
    return SendOutcome(ok=False, retryable=True, error=_describe(exc))


def _failure(exc: ApiException, *, reply_token_invalid: bool = False) -> SendOutcome:
    status = exc.status or 0
    retryable = status == 429 or status >= 500 or status == 0
    return SendOutcome(
        ok=False,
        retryable=retryable,
        reply_token_invalid=reply_token_invalid,
        retry_after=_retry_after(exc) if status == 429 else None,
        error=_describe(exc),
    )


def _refused(exc: ApiException) -> ApiException:
    exc.body = (exc.body or b"").decode("utf-8", "replace")
    return exc


class LineGateway:
    """Thread-safe: each thread gets its own SDK client (urllib3 pools are per client).

    The ``*_async`` sends belong to one event loop (the web process's dispatcher): its
    SDK client and aiohttp pool are made on first use there and closed by :meth:`aclose`.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._local = threading.local()
        self._timeout = settings.line_timeout_seconds
        self._async: AsyncApiClient | None = None

    def _configuration(self, host: str) -> Configuration:
        return Configuration(host=host, access_token=self._settings.line_channel_access_token)

    def _clients(self) -> tuple[MessagingApi, MessagingApiBlob]:
        clients = getattr(self._local, "clients", None)
        if clients is None:
            api = ApiClient(self._configuration(self._settings.line_api_base_url))
            blob = ApiClient(self._configuration(self._settings.line_data_api_base_url))
            clients = (MessagingApi(api), MessagingApiBlob(blob))
            self._local.clients = clients
        return clients

    @staticmethod
    def _headers(client: ApiClient | AsyncApiClient, path: str, retry_key: str | None) -> Any:
        headers = {
            **client.default_headers,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        if retry_key:
            headers["X-Line-Retry-Key"] = retry_key
        client.update_params_for_auth(headers, [], ["Bearer"], path, "POST", None)
        return headers

    def _send(self, path: str, body: bytes, retry_key: str | None = None) -> None:
        """POST a message body, serialised by us (:func:`_body`), on the SDK client's
        pooled connection.

        The SDK's ``call_api`` always re-serialises a JSON body with ``json.dumps``: every
        Thai character becomes ``\\uXXXX`` and a Thai card nearly doubles, past LINE's 30 KB
        per bubble (issue 14, item 8). So the compact UTF-8 bytes the size checks measure
        (``handlers.messages.wire_json``) are the bytes sent; auth, user agent and
        ``ApiException`` stay the SDK's. Our dicts are built by ``handlers`` and checked
        against LINE's rules in the tests, so they skip the SDK's pydantic models too.
        """
        client = self._clients()[0].api_client
        response = client.rest_client.pool_manager.request(
            "POST",
            f"{client.configuration.host}{path}",
            body=body,
            headers=self._headers(client, path, retry_key),
            timeout=urllib3.Timeout(total=self._timeout),
        )
        if not 200 <= response.status <= 299:
            raise _refused(ApiException(http_resp=RESTResponse(response)))

    async def _send_async(self, path: str, body: bytes, retry_key: str | None = None) -> None:
        """:meth:`_send` on the SDK's asynchronous client: a send waiting for LINE holds
        no thread, so a slow LINE costs the web process no CPU (issue 12)."""
        client = self._async or self._async_client()
        async with client.rest_client.pool_manager.post(
            f"{client.configuration.host}{path}",
            data=body,
            headers=self._headers(client, path, retry_key),
            proxy=client.configuration.proxy,
            timeout=aiohttp.ClientTimeout(total=self._timeout),
        ) as response:
            data = await response.read()
        if not 200 <= response.status <= 299:
            raise _refused(ApiException(http_resp=AsyncRESTResponse(response, data)))

    def _async_client(self) -> AsyncApiClient:
        configuration = self._configuration(self._settings.line_api_base_url)
        configuration.connection_pool_maxsize = ASYNC_CONNECTIONS
        client = AsyncApiClient(configuration)
        # The SDK's session trusts the environment: aiohttp then looks up netrc and proxy
        # variables on a helper thread for every request (0.3-0.9 ms of CPU per send,
        # `python -m bench.micro`). The synchronous client reads neither (its proxy is
        # Configuration.proxy), so neither does this one: same connector, no trust_env.
        sdk_session = client.rest_client.pool_manager
        client.rest_client.pool_manager = aiohttp.ClientSession(
            connector=sdk_session.connector, trust_env=False
        )
        sdk_session.detach()
        self._async = client
        return client

    async def aclose(self) -> None:
        if self._async is not None:
            await self._async.close()
            self._async = None

    @staticmethod
    def _error(send: Callable[[], None]) -> Exception | None:
        try:
            send()
        except Exception as exc:  # noqa: BLE001 - judged by the caller's outcome rules
            return exc
        return None

    @staticmethod
    async def _error_async(send: Awaitable[None]) -> Exception | None:
        try:
            await send
        except Exception as exc:  # noqa: BLE001 - judged by the caller's outcome rules
            return exc
        return None

    # ``messages``: a list of message objects as ``wire_json`` serialises it, as the
    # outbox keeps them (store.outbox.Delivery).
    def reply(self, reply_token: str, messages: bytes) -> SendOutcome:
        body = _body({"replyToken": reply_token}, messages)
        return _reply_outcome(self._error(lambda: self._send(REPLY, body)))

    def push(self, to: str, messages: bytes, retry_key: str) -> SendOutcome:
        body = _body({"to": to}, messages)
        return _keyed_outcome(self._error(lambda: self._send(PUSH, body, retry_key)))

    def multicast(self, to: list[str], messages: bytes, retry_key: str) -> SendOutcome:
        body = _body({"to": to}, messages)
        return _keyed_outcome(self._error(lambda: self._send(MULTICAST, body, retry_key)))

    async def reply_async(self, reply_token: str, messages: bytes) -> SendOutcome:
        body = _body({"replyToken": reply_token}, messages)
        return _reply_outcome(await self._error_async(self._send_async(REPLY, body)))

    async def push_async(self, to: str, messages: bytes, retry_key: str) -> SendOutcome:
        body = _body({"to": to}, messages)
        return _keyed_outcome(await self._error_async(self._send_async(PUSH, body, retry_key)))

    async def multicast_async(self, to: list[str], messages: bytes, retry_key: str) -> SendOutcome:
        body = _body({"to": to}, messages)
        return _keyed_outcome(await self._error_async(self._send_async(MULTICAST, body, retry_key)))

    def content(self, message_id: str, max_bytes: int) -> tuple[bytes, str | None]:
        """Download a media message's content, refusing it once it passes ``max_bytes``.

        Refused on a declared Content-Length over the limit before a byte is read, and by a
        running count while streaming, so a body of any size (or none declared) costs at
        most the limit plus one chunk. The SDK's own call would read the whole body first.
        """
        _, blob = self._clients()
        client = blob.api_client
        path = f"/v2/bot/message/{quote(message_id, safe='')}/content"
        # Identity encoding only: a compressed body could expand past any limit.
        headers = {**client.default_headers, "Accept": "*/*", "Accept-Encoding": "identity"}
        client.update_params_for_auth(headers, [], ["Bearer"], path, "GET", None)
        try:
            response = client.request(
                "GET",
                f"{client.configuration.host}{path}",
                headers=headers,
                _preload_content=False,
                _request_timeout=self._timeout * 6,
            )
        except ApiException as exc:
            status = exc.status or 0
            raise ContentUnavailable(
                _describe(exc), retryable=status == 429 or status >= 500
            ) from exc
        except Exception as exc:  # noqa: BLE001
            raise ContentUnavailable(_describe(exc), retryable=True) from exc
        try:
            data = _read_limited(response, max_bytes)
        except BaseException:
            response.close()  # never drain the rest, nor reuse a half-read connection
            raise
        finally:
            response.release_conn()
        return data, response.headers.get("Content-Type")

    def show_loading(self, chat_id: str, seconds: int = 5) -> None:
        """Best effort: the typing dots while the reporter waits for a long step."""
        api, _ = self._clients()
        try:
            api.show_loading_animation(
                ShowLoadingAnimationRequest(chatId=chat_id, loadingSeconds=seconds),
                _request_timeout=2,
            )
        except Exception:  # noqa: BLE001,S110 - cosmetic; never worth failing for
            pass
