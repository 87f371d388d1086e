"""Support by e-mail, end to end over real SMTP on loopback: chargewatch mails the driver (feedback reply, the
operator's answer; captured by a real aiosmtpd relay), the driver answers from a mail client (smtplib to
chargewatch's own SMTP receiver), and the message is in the session's conversation — in the API and live on
the driver's and the operator's event streams — on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import smtplib
from collections.abc import AsyncIterator
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import httpx
import pytest
from sqlalchemy import func, select

from chargewatch.api.feedback import RateLimit
from chargewatch.runtime import Chargewatch
from chargewatch.store.support_tables import support_messages
from faults_live.live import eventually
from helpers import http_url
from web.conftest import ADMIN, add_operators, logged_in

from .charging import plug_in, rate, token_of
from .mail import mailbox_fixture, priced_charger, running, use_mail  # noqa: F401 - the mailbox fixture

SUPPORT = "support@operator.example"
DRIVER = "Dana Driver <dana.driver@example.net>"


@pytest.fixture
async def support_server(db_url, mailbox, monkeypatch) -> AsyncIterator[Chargewatch]:
    use_mail(monkeypatch, mailbox[1], SMTP_FROM="Operator Support <noreply-sender@operator.example>")
    async with running(db_url) as app:
        yield app


@pytest.fixture
async def sqlite_support_server(sqlite_url, mailbox, monkeypatch) -> AsyncIterator[Chargewatch]:
    use_mail(monkeypatch, mailbox[1], SUPPORT_SMTP_MAX_BYTES="100000")
    async with running(sqlite_url) as app:
        yield app


def send(app: Chargewatch, message: EmailMessage, *, sender: str = "dana.driver@example.net",
         to: list[str] | None = None) -> None:
    """What the driver's mail server does: deliver over SMTP to chargewatch's receiver."""
    with smtplib.SMTP("127.0.0.1", app.app.state.support_receiver.port, timeout=10) as smtp:
        smtp.send_message(message, from_addr=sender, to_addrs=to or [str(message["To"])])


def gmail_reply(to: str, original: EmailMessage, text: str) -> EmailMessage:
    """A reply as Gmail writes it: multipart/alternative, the original quoted under 'On … wrote:'."""
    reply = EmailMessage()
    reply["From"] = DRIVER
    reply["To"] = to
    reply["Subject"] = f"Re: {original['Subject']}"
    reply["Message-ID"] = make_msgid(domain="mail.gmail.example")
    reply["In-Reply-To"] = original["Message-ID"]
    reply["References"] = f"{original.get('References', '')} {original['Message-ID']}".strip()
    quoted = "\n".join(f"> {line}" for line in original.get_content().splitlines())
    reply.set_content(f"{text}\n\nOn Wed, 2 Dec 2026 at 14:03, Operator Support <{SUPPORT}> wrote:\n{quoted}\n")
    reply.add_alternative(f'<div dir="ltr">{text}</div><br><div class="gmail_quote"><div dir="ltr" '
                          f'class="gmail_attr">On Wed, 2 Dec 2026 at 14:03 wrote:<br></div><blockquote '
                          f'class="gmail_quote">{original.get_content()}</blockquote></div>', subtype="html")
    return reply


def outlook_de_reply(original: EmailMessage, text: str) -> EmailMessage:
    """German Outlook: top posting, a signature, the 'Von: … Gesendet: …' header block, sent to the bare
    support mailbox (the client dropped the +token): found by In-Reply-To."""
    reply = EmailMessage()
    reply["From"] = DRIVER
    reply["To"] = SUPPORT
    reply["Subject"] = f"AW: {original['Subject']}"
    reply["Message-ID"] = make_msgid(domain="outlook.example")
    reply["In-Reply-To"] = original["Message-ID"]
    reply["Thread-Topic"] = str(original["Subject"])
    reply.set_content(f"{text}\n\nMit freundlichen Grüßen\nDana Driver\n\n"
                      f"________________________________\nVon: Operator Support <{SUPPORT}>\n"
                      f"Gesendet: Mittwoch, 2. Dezember 2026 14:05\nAn: Dana Driver <dana.driver@example.net>\n"
                      f"Betreff: {original['Subject']}\n\n{original.get_content()}\n")
    return reply


async def listen(url: str, path: str, received: list[dict], until: int, ready: asyncio.Event) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client, client.stream("GET", path) as stream:
        kind = None
        async for line in stream.aiter_lines():
            if line.startswith(": connected"):
                ready.set()
            elif line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: ") and kind == "support.message":
                received.append(json.loads(line.removeprefix("data: ")))
                if len(received) >= until:
                    return


async def test_a_driver_replying_by_e_mail_writes_in_the_sessions_conversation_live(support_server, mailbox,
                                                                                    ocpp_version):
    box, _ = mailbox
    async with httpx.AsyncClient(base_url=http_url(support_server), timeout=10) as api:
        charger = await plug_in(support_server, "CP-MAILBACK", ocpp_version)
        tx = await charger.charge()
        await charger.cp.close()
        token = await token_of(api, tx)
        await rate(api, tx, overall=2, comment="Cable stuck after charging",
                   contact={"email": "dana.driver@example.net"})
        answered = await api.post(f"/api/v1/feedback/sessions/{tx}/reply", json={"text": "Sorry! Is it free now?"})
        assert answered.json()["email"] == "sent"
        [feedback_reply] = box.messages
        reply_to = str(feedback_reply["Reply-To"])
        assert reply_to.startswith(f"support+{tx}-") and reply_to.endswith("@operator.example")
        assert str(feedback_reply["Message-ID"]).strip().startswith(f"<cw.{tx}-")  # may be folded

        driver_events: list[dict] = []
        operator_events: list[dict] = []
        ready = [asyncio.Event(), asyncio.Event()]
        listeners = [asyncio.create_task(listen(http_url(support_server), f"/s/{token}/events", driver_events, 3,
                                                ready[0])),
                     asyncio.create_task(listen(http_url(support_server), "/api/v1/events", operator_events, 3,
                                                ready[1]))]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready)), 10)

        # 1. Gmail reply to the feedback reply, to its Reply-To address: opens the conversation.
        first = gmail_reply(reply_to, feedback_reply, "No, the cable is still locked in the car.")
        await asyncio.to_thread(send, support_server, first)
        [conversation] = (await api.get("/api/v1/support/conversations")).json()["items"]
        assert conversation["transaction_id"] == tx and conversation["status"] == "waiting"
        assert conversation["reachable_by_email"] is True
        assert [(m["author"], m["source"], m["body"]) for m in conversation["messages"]] == [
            ("driver", "email", "No, the cable is still locked in the car.")]

        # 2. The operator answers in the console: mailed to the driver, threaded under the driver's mail.
        answer = await api.post(f"/api/v1/support/conversations/{conversation['id']}/messages",
                                json={"body": "We unlocked it remotely. Please pull the plug now."})
        assert answer.status_code == 201
        await eventually(lambda: asyncio.sleep(0, len(box.messages) == 2))
        answer_mail = box.parsed(1)
        assert str(answer_mail["To"]) == "dana.driver@example.net"
        assert str(answer_mail["In-Reply-To"]).strip() == str(first["Message-ID"]).strip()
        assert str(first["Message-ID"]).strip() in str(answer_mail["References"])
        assert str(answer_mail["Reply-To"]) == reply_to
        assert "We unlocked it remotely." in answer_mail.get_content()

        # 3. The driver answers that from Outlook (German), to the bare mailbox: found by In-Reply-To.
        second = outlook_de_reply(answer_mail, "Hat geklappt, danke!")
        await asyncio.to_thread(send, support_server, second)
        await asyncio.wait_for(asyncio.gather(*listeners), 20)
        detail = (await api.get(f"/api/v1/support/conversations/{conversation['id']}")).json()
        assert [(m["author"], m["source"], m["body"]) for m in detail["messages"]] == [
            ("driver", "email", "No, the cable is still locked in the car."),
            ("operator", "web", "We unlocked it remotely. Please pull the plug now."),
            ("driver", "email", "Hat geklappt, danke!")]
        for events in (driver_events, operator_events):
            assert [(e["author"], e["source"], e["body"]) for e in events] == [
                (m["author"], m["source"], m["body"]) for m in detail["messages"]]
        driver_view = (await api.get(f"/api/v1/driver/{token}/support")).json()
        assert [m["source"] for m in driver_view["conversation"]["messages"]] == ["email", "web", "email"]
    add_operators(support_server)
    console_client = await logged_in(support_server, ADMIN)
    try:
        console = (await console_client.get("/support")).text  # the console marks the e-mailed messages
    finally:
        await console_client.aclose()
    assert console.count("by e-mail</span>") == 2 and "answers also e-mailed" in console


def count_messages(app: Chargewatch) -> int:
    with app.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(support_messages)).scalar_one()


async def test_unknown_addresses_bounce_and_automatic_mail_never_enters_a_conversation(sqlite_support_server,
                                                                                     mailbox, ocpp_version):
    app = sqlite_support_server
    address = app.app.state.feedback.support_address
    async with httpx.AsyncClient(base_url=http_url(app), timeout=10) as api:
        charger = await plug_in(app, "CP-BOUNCE", ocpp_version)
        tx = await charger.charge()
        await charger.cp.close()
        token = await token_of(api, tx)
        real = address.reply_to(tx)

        def plain(to: str, text: str = "Hello, the charger ate my card", **headers: str) -> EmailMessage:
            message = EmailMessage()
            message["From"] = DRIVER
            message["To"] = to
            message["Subject"] = "Help"
            message["Message-ID"] = make_msgid(domain="example.net")
            for name, value in headers.items():
                message[name.replace("_", "-")] = value
            message.set_content(text)
            return message

        forged = real.replace(real.split("+")[1].split("@")[0][-4:], "aaaa")
        for to in (forged, f"support+{tx + 1}-{'a' * 26}@operator.example", "someone@elsewhere.example"):
            with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
                await asyncio.to_thread(send, app, plain(to))
            assert refused.value.recipients[to][0] == 550
        with pytest.raises(smtplib.SMTPDataError) as no_thread:  # the bare mailbox and nothing to thread by
            await asyncio.to_thread(send, app, plain(SUPPORT))
        assert no_thread.value.smtp_code == 550
        with pytest.raises(smtplib.SMTPDataError) as unknown_thread:
            await asyncio.to_thread(send, app, plain(SUPPORT, In_Reply_To="<cw.7-abc.123@operator.example>"))
        assert unknown_thread.value.smtp_code == 550

        # Automatic mail to a genuine address is accepted (no bounce loop) and dropped.
        await asyncio.to_thread(send, app, plain(real, "I am out of office until Monday.",
                                                 Auto_Submitted="auto-replied"))
        await asyncio.to_thread(send, app, plain(real, "Abwesend", Precedence="bulk"))
        bounce = plain(real, "Delivery to the following recipient failed permanently")
        bounce.replace_header("From", "Mail Delivery Subsystem <MAILER-DAEMON@example.net>")
        await asyncio.to_thread(send, app, bounce, sender="")
        assert count_messages(app) == 0

        # Too large: refused with 552 by the size limit.
        with pytest.raises(smtplib.SMTPException) as too_big:
            await asyncio.to_thread(send, app, plain(real, "x" * 200_000))
        assert "552" in str(too_big.value) or getattr(too_big.value, "smtp_code", None) == 552

        # A genuine one, delivered twice by a retrying server: one message.
        genuine = plain(real.upper().replace("@OPERATOR.EXAMPLE", "@operator.example"))  # case folded local part
        await asyncio.to_thread(send, app, genuine)
        await asyncio.to_thread(send, app, genuine)
        view = (await api.get(f"/api/v1/driver/{token}/support")).json()
        assert [m["body"] for m in view["conversation"]["messages"]] == ["Hello, the charger ate my card"]
        # A flood for one conversation is refused for now (452: the sending server retries later).
        app.app.state.support_receiver.mailbox.limit = RateLimit(1, timedelta(minutes=1))
        await asyncio.to_thread(send, app, plain(real, "one more thing"))
        with pytest.raises(smtplib.SMTPDataError) as flooded:
            await asyncio.to_thread(send, app, plain(real, "and another"))
        assert flooded.value.smtp_code == 452
        assert count_messages(app) == 2
        metrics = (await api.get("/metrics")).text
        assert 'chargewatch_support_mail_total{outcome="automatic"} 3.0' in metrics
        assert 'chargewatch_support_mail_total{outcome="stored"} 2.0' in metrics
        assert 'chargewatch_support_mail_total{outcome="limited"} 1.0' in metrics
        assert 'chargewatch_support_mail_total{outcome="duplicate"} 1.0' in metrics
    assert len(mailbox[0].messages) == 0  # nothing was answered


def apple_mail_de_reply(original: EmailMessage, text: str) -> EmailMessage:
    """Apple Mail on an iPhone, German: the text, 'Von meinem iPhone gesendet', the quoted receipt."""
    reply = EmailMessage()
    reply["From"] = DRIVER
    reply["To"] = str(original["Reply-To"])
    reply["Subject"] = f"Re: {original['Subject']}"
    reply["Message-ID"] = make_msgid(domain="icloud.example")
    reply["In-Reply-To"] = original["Message-ID"]
    reply["References"] = original["Message-ID"]
    quoted = "\n".join(f"> {line}" for line in original.get_body(("plain",)).get_content().splitlines())
    reply.set_content(f"{text}\n\nVon meinem iPhone gesendet\n\n> Am 02.12.2026 um 14:03 schrieb Operator "
                      f"<{SUPPORT}>:\n> \n{quoted}\n")
    return reply


async def test_a_reply_to_the_receipt_e_mail_opens_the_sessions_conversation(support_server, mailbox, ocpp_version):
    box, _ = mailbox
    async with httpx.AsyncClient(base_url=http_url(support_server), timeout=10) as api:
        await priced_charger(api, "CP-RECEIPTMAIL", "FLAT-MAIL")
        charger = await plug_in(support_server, "CP-RECEIPTMAIL", ocpp_version)
        tx = await charger.charge(energy_wh=10_000)
        await charger.cp.close()
        token = await token_of(api, tx)

        async def issued():
            bill = await api.get(f"/api/v1/sessions/{tx}/invoice")
            return bill.status_code == 200 and bill.json()["status"] == "issued"

        await eventually(issued)
        page = (await api.get(f"/s/{token}", params={"lang": "de"})).text
        assert 'id="receipt-email-form"' in page and "Beleg per E-Mail senden" in page
        bad = await api.post(f"/api/v1/driver/{token}/receipt/email", json={"email": "not-an-address"})
        assert bad.status_code == 422
        sent = await api.post(f"/api/v1/driver/{token}/receipt/email",
                              json={"email": "dana.driver@example.net", "lang": "de"})
        assert sent.status_code == 200 and sent.json()["email"] == "sent", sent.text
        [receipt] = box.messages
        assert str(receipt["To"]) == "dana.driver@example.net" and sent.json()["invoice_number"] in receipt["Subject"]
        assert str(receipt["Reply-To"]).startswith(f"support+{tx}-")
        [pdf] = [part for part in receipt.iter_attachments() if part.get_content_type() == "application/pdf"]
        assert pdf.get_content()[:5] == b"%PDF-"

        question = "Warum 19 % MwSt. auf die Standzeit?"
        await asyncio.to_thread(send, support_server, apple_mail_de_reply(receipt, question))
        view = (await api.get(f"/api/v1/driver/{token}/support")).json()
        assert [(m["author"], m["source"], m["body"]) for m in view["conversation"]["messages"]] == [
            ("driver", "email", question)]
        assert (await api.post("/api/v1/driver/1-AAAAAAAAAAAAAAAAAAAAAA/receipt/email",
                               json={"email": "dana.driver@example.net"})).status_code == 404
