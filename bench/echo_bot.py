"""A bare echo bot, written the way line-bot-sdk's Flask echo example is written.

``WebhookHandler`` dispatches each event; the reply is sent inside the request with
``MessagingApi.reply_message``, through a new ``ApiClient`` per event, as in the example.
It is the baseline the benchmark compares Krasip with:
``gunicorn 'bench.echo_bot:app'`` with LINE_CHANNEL_SECRET, LINE_CHANNEL_ACCESS_TOKEN
and LINE_API_BASE_URL in the environment.
"""

from __future__ import annotations

import os

from flask import Flask, abort, request
from linebot.v3 import WebhookHandler
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.messaging import (
    ApiClient,
    Configuration,
    MessagingApi,
    ReplyMessageRequest,
    TextMessage,
)
from linebot.v3.webhooks import MessageEvent, PostbackEvent, TextMessageContent

app = Flask(__name__)

configuration = Configuration(
    host=os.environ.get("LINE_API_BASE_URL", "https://api.line.me"),
    access_token=os.environ["LINE_CHANNEL_ACCESS_TOKEN"],
)
handler = WebhookHandler(os.environ["LINE_CHANNEL_SECRET"])


@app.route("/callback", methods=["POST"])
def callback() -> str:
    signature = request.headers["X-Line-Signature"]
    body = request.get_data(as_text=True)
    try:
        handler.handle(body, signature)
    except InvalidSignatureError:
        abort(400)
    return "OK"


@app.route("/healthz")
def healthz() -> str:
    return "ok"


def _reply(reply_token: str, text: str) -> None:
    with ApiClient(configuration) as api_client:
        line_bot_api = MessagingApi(api_client)
        line_bot_api.reply_message_with_http_info(
            ReplyMessageRequest(reply_token=reply_token, messages=[TextMessage(text=text)])
        )


@handler.add(MessageEvent, message=TextMessageContent)
def handle_message(event: MessageEvent) -> None:
    _reply(event.reply_token, event.message.text)


@handler.add(PostbackEvent)
def handle_postback(event: PostbackEvent) -> None:
    # The benchmark's conversations tap buttons too: echo what was tapped.
    _reply(event.reply_token, event.postback.data)
