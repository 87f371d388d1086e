"""Reading a driver's e-mail: only the new text (EN/DE replies as Gmail, Outlook and Apple Mail write them),
automatic mail recognised, and the session found only from a genuine token or one of our Message-IDs."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from chargewatch.notify.inbound import SupportAddress, parse

ADDRESS = SupportAddress("support@operator.example", b"s" * 32)
NEW = "The cable is still locked, can you help?"
NEU = "Der Stecker steckt immer noch fest."


def raw(body: str, *, subtype: str = "plain", **headers: str) -> bytes:
    message = EmailMessage()
    message["From"] = headers.pop("From", "Dana <Dana@Example.NET>")
    message["To"] = ADDRESS.reply_to(12)
    message["Subject"] = "Re: Your charging session 12"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body, subtype=subtype)
    return bytes(message)


SHAPES = {
    "gmail en": (f"{NEW}\n\nOn Wed, 2 Dec 2026 at 14:03, Support <support@operator.example> wrote:\n"
                 "> We unlocked it remotely.\n>\n", NEW),
    "gmail de": (f"{NEU}\n\nAm Mi., 2. Dez. 2026 um 14:03 Uhr schrieb Support <support@operator.example>:\n"
                 "> Wir haben entriegelt.\n", NEU),
    "outlook en": (f"{NEW}\n\nBest regards\nDana\n\n________________________________\n"
                   "From: Support <support@operator.example>\nSent: Wednesday, December 2, 2026 2:03 PM\n"
                   "To: Dana <dana@example.net>\nSubject: Your charging session 12\n\nWe unlocked it remotely.\n",
                   NEW),
    "outlook de": (f"{NEU}\n\nMit freundlichen Grüßen\nDana\n\nVon: Support <support@operator.example>\n"
                   "Gesendet: Mittwoch, 2. Dezember 2026 14:03\nAn: Dana <dana@example.net>\n"
                   "Betreff: Ihr Ladevorgang 12\n\nWir haben entriegelt.\n", NEU),
    "apple mail en": (f"{NEW}\n\nSent from my iPhone\n\n> On 2. Dec 2026, at 14:03, Support "
                      "<support@operator.example> wrote:\n> \n> We unlocked it remotely.\n", NEW),
    "apple mail de": (f"{NEU}\n\nVon meinem iPhone gesendet\n\n> Am 02.12.2026 um 14:03 schrieb Support "
                      "<support@operator.example>:\n> \n> Wir haben entriegelt.\n", NEU),
    "signature": (f"{NEW}\n-- \nDana Driver\nACME GmbH, Berlin\n", NEW),
    "two paragraphs": ("First line.\n\nSecond paragraph, still mine.\n\nOn Tue, 1 Dec 2026, Support wrote:\n> old\n",
                       "First line.\n\nSecond paragraph, still mine."),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_only_the_drivers_new_text_is_kept(shape):
    body, expected = SHAPES[shape]
    assert parse(raw(body)).text == expected


def test_an_html_only_reply_is_read_as_text_without_the_quoted_part():
    outlook = (f"<html><head><style>p {{margin:0}}</style></head><body><div><p>{NEU}</p><p>Danke!</p></div>"
               '<hr><div id="divRplyFwdMsg"><b>Von:</b> Support<br><b>Gesendet:</b> Mittwoch</div>'
               "<div>Wir haben entriegelt.</div></body></html>")
    assert parse(raw(outlook, subtype="html")).text == f"{NEU}\n\nDanke!"
    gmail = (f'<div dir="ltr">{NEW}</div><br><div class="gmail_quote"><div class="gmail_attr">On Wed wrote:</div>'
             "<blockquote>We unlocked it.</blockquote></div>")
    assert parse(raw(gmail, subtype="html")).text == NEW


def test_the_sender_threading_ids_and_subject_are_read():
    mail = parse(raw(NEW, Message_ID="<a1@example.net>", In_Reply_To="<cw.12-x.1@operator.example>",
                     References="<first@example.net> <cw.12-x.1@operator.example>"))
    assert mail.sender == "dana@example.net" and mail.message_id == "<a1@example.net>"
    assert mail.replying_to == ("<cw.12-x.1@operator.example>", "<first@example.net>")
    assert mail.automatic is None


@pytest.mark.parametrize(("headers", "envelope", "reason"), [
    ({"Auto_Submitted": "auto-replied"}, "dana@example.net", "Auto-Submitted: auto-replied"),
    ({"Precedence": "bulk"}, "dana@example.net", "Precedence: bulk"),
    ({"X_Autoreply": "yes"}, "dana@example.net", "X-Autoreply header"),
    ({"List_Id": "<drivers.example.net>"}, "dana@example.net", "List-Id header"),
    ({}, "", "null envelope sender (a bounce)"),
    ({"From": "Mail Delivery System <MAILER-DAEMON@mx.example.net>"}, "x@mx.example.net",
     "sender mailer-daemon@mx.example.net"),
    ({"From": "postmaster@example.net"}, "x@example.net", "sender postmaster@example.net"),
])
def test_automatic_mail_is_recognised(headers, envelope, reason):
    assert parse(raw("I am out of the office.", **headers), envelope).automatic == reason


def test_auto_submitted_no_is_a_person():
    assert parse(raw(NEW, Auto_Submitted="no"), "dana@example.net").automatic is None


def test_only_a_genuine_token_names_a_session():
    address = ADDRESS.reply_to(12)
    assert address.startswith("support+12-") and address.endswith("@operator.example")
    assert ADDRESS.transaction_of_address(address) == 12
    assert ADDRESS.transaction_of_address(address.upper()) == 12  # a relay folded the case
    local, domain = address.split("@")
    assert ADDRESS.transaction_of_address(f"{local}@elsewhere.example") is None
    assert ADDRESS.transaction_of_address(f"{local[:-1]}{'b' if local[-1] != 'b' else 'c'}@{domain}") is None
    assert ADDRESS.transaction_of_address(address.replace("+12-", "+13-")) is None
    assert ADDRESS.transaction_of_address("support@operator.example") is None
    assert ADDRESS.is_ours("Support@Operator.Example") and not ADDRESS.is_ours("sales@operator.example")
    other = SupportAddress("support@operator.example", b"t" * 32)  # another instance's secret
    assert other.transaction_of_address(address) is None


def test_our_message_ids_name_their_session_and_others_do_not():
    ours = ADDRESS.new_message_id(12)
    assert ADDRESS.transaction_of_message_ids(["<x@gmail.example>", ours]) == 12
    assert ADDRESS.transaction_of_message_ids(["<cw.12-aaaaaaaaaaaaaaaaaaaaaaaaaa.1@operator.example>"]) is None
    assert ADDRESS.transaction_of_message_ids([ours.replace("operator.example", "evil.example")]) is None
    assert ADDRESS.new_message_id(12) != ours  # unique per mail


def test_threading_an_outgoing_mail_sets_reply_to_and_references():
    message = EmailMessage()
    message["To"] = "dana@example.net"
    message.set_content("We unlocked it.")
    message_id = ADDRESS.thread(message, 12, ["<a@example.net>", "<b@example.net>"])
    assert str(message["Reply-To"]) == ADDRESS.reply_to(12) and str(message["Message-ID"]) == message_id
    assert str(message["In-Reply-To"]) == "<b@example.net>"
    assert str(message["References"]) == "<a@example.net> <b@example.net>"
