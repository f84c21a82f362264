"""Sending one message (an event, or a digest of several) to a webhook or an SMTP mailbox.

A failed send raises `SendError` with a sentence fit for the delivery log: it names the host,
never the secret (nor a URL's path, which for chat webhooks is itself a secret).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import smtplib
import ssl
import urllib.parse
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from functools import cache
from typing import Any

import httpx

from storycheck import __version__
from storycheck.alerts.channels import ChannelSpec

SIGNATURE_HEADER = "X-Storycheck-Signature"
EVENT_ID_HEADER = "X-Storycheck-Event-Id"
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


@cache
def _tls_context() -> ssl.SSLContext:
    # Loading the CA bundle takes ~0.1 s: once per process, not once per message.
    return ssl.create_default_context()


class SendError(Exception):
    """A message was not accepted; the text says why, without secrets."""


def sign(secret: str, body: bytes) -> str:
    """The signature header value: `sha256=` + hex HMAC-SHA256 of the body under the secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def render_template(template: str, event: Mapping[str, Any]) -> str:
    """Fill `{name}` placeholders from the event and its payload (no expressions, no
    attribute access: a template cannot reach anything but these values)."""
    values: dict[str, Any] = {**event.get("payload", {}), **event}
    values.pop("payload", None)

    def value(match: re.Match[str]) -> str:
        found = values.get(match.group(1))
        return match.group(0) if found is None else str(found)

    return _PLACEHOLDER.sub(value, template)


def message_body(
    spec: ChannelSpec, events: Sequence[Mapping[str, Any]], message_id: str
) -> dict[str, Any]:
    """The JSON body: the event itself, or `{"type": "digest", "events": [...]}`."""
    template = spec.config.get("template")
    if template:
        text = "\n".join(render_template(template, e) for e in events)
        return {spec.config.get("template_field", "text"): text}
    if len(events) == 1:
        return dict(events[0])
    return {"id": message_id, "type": "digest", "count": len(events), "events": list(events)}


def send(spec: ChannelSpec, events: Sequence[Mapping[str, Any]], message_id: str,
         *, default_recipient: str | None = None) -> None:
    """Send one message carrying `events` over the channel; raise SendError on failure."""
    if spec.kind == "webhook":
        send_webhook(spec, events, message_id)
    else:
        send_email(spec, events, message_id, default_recipient=default_recipient)


def _where(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def send_webhook(spec: ChannelSpec, events: Sequence[Mapping[str, Any]], message_id: str) -> None:
    """POST the body as JSON; any 2xx answer is a delivery."""
    url = str(spec.config["url"])
    body = json.dumps(message_body(spec, events, message_id), separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"storycheck-alerts/{__version__}",
        EVENT_ID_HEADER: str(events[0]["id"]) if len(events) == 1 else message_id,
        "X-Storycheck-Event-Type": str(events[0]["type"]) if len(events) == 1 else "digest",
    }
    if spec.secret:
        headers[SIGNATURE_HEADER] = sign(spec.secret, body)
    try:
        with httpx.Client(timeout=spec.timeout, follow_redirects=False, trust_env=False,
                          verify=_tls_context()) as client:
            response = client.post(url, content=body, headers=headers)
    except httpx.TimeoutException as exc:
        raise SendError(
            f"{_where(url)} did not answer within {spec.timeout:g} s"
        ) from exc
    except httpx.HTTPError as exc:
        reason = type(exc).__name__
        cause = exc.__cause__ or exc.__context__
        if cause is not None and str(cause):
            reason = _reason(cause)
        raise SendError(f"Could not reach {_where(url)}: {reason}") from exc
    if not 200 <= response.status_code < 300:
        raise SendError(f"{_where(url)} answered HTTP {response.status_code}")


def _email_message(
    config: Mapping[str, Any],
    recipients: list[str],
    events: Sequence[Mapping[str, Any]],
    message_id: str,
) -> EmailMessage:
    """One event's message, or a digest's: a line and its payload per event."""
    message = EmailMessage()
    message["From"] = config["from_address"]
    message["To"] = ", ".join(recipients)
    if len(events) == 1:
        message["Subject"] = f"[storycheck] {events[0]['summary']}"
        message[EVENT_ID_HEADER] = str(events[0]["id"])
    else:
        message["Subject"] = f"[storycheck] {len(events)} alerts"
        message[EVENT_ID_HEADER] = message_id
    lines = []
    for event in events:
        lines.append(f"{event['created_at']}  {event['type']}  {event['summary']}")
        lines.append("    " + json.dumps(event["payload"], separators=(", ", ": ")))
    message.set_content("\n".join(lines) + "\n")
    return message


def _smtp_send(spec: ChannelSpec, message: EmailMessage, recipients: list[str]) -> None:
    """Connect (SSL, STARTTLS or plain), log in when the channel has a user, and send."""
    config = spec.config
    host, port, security = str(config["host"]), int(config["port"]), config["security"]
    smtp: smtplib.SMTP
    if security == "ssl":
        smtp = smtplib.SMTP_SSL(host, port, timeout=spec.timeout, context=_tls_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=spec.timeout)
    with smtp:
        if security == "starttls":
            smtp.starttls(context=_tls_context())
        if config.get("username"):
            smtp.login(str(config["username"]), spec.secret or "")
        smtp.send_message(message, to_addrs=recipients)


def _reason(exc: BaseException) -> str:
    text = str(exc)
    if "Connection refused" in text or isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "unknown host name"
    return text[:200]


def send_email(
    spec: ChannelSpec,
    events: Sequence[Mapping[str, Any]],
    message_id: str,
    *,
    default_recipient: str | None = None,
) -> None:
    """Send one email (one event, or a digest) through the channel's SMTP server."""
    config = spec.config
    recipients = list(config.get("to") or ([default_recipient] if default_recipient else []))
    if not recipients:
        raise SendError("No recipient: set the channel's `to` or the notification_email setting")
    message = _email_message(config, recipients, events, message_id)
    where = f"SMTP server {config['host']}:{int(config['port'])}"
    try:
        _smtp_send(spec, message, recipients)
    except smtplib.SMTPAuthenticationError as exc:
        raise SendError(f"{where} refused the login of user {config.get('username')}") from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise SendError(f"{where} does not support STARTTLS; choose ssl or none") from exc
    except smtplib.SMTPRecipientsRefused as exc:
        raise SendError(f"{where} refused the recipients {', '.join(recipients)}") from exc
    except smtplib.SMTPResponseException as exc:
        raise SendError(f"{where} answered {exc.smtp_code}") from exc
    except TimeoutError as exc:
        raise SendError(f"{where} did not answer within {spec.timeout:g} s") from exc
    except ssl.SSLError as exc:
        raise SendError(f"TLS with {where} failed: {exc.reason or 'handshake error'}") from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise SendError(f"Could not connect to {where}: {_reason(exc)}") from exc
