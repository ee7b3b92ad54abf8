"""Mail delivery: settings from env and file, the message's shape, and real SMTP against aiosmtpd."""

from __future__ import annotations

import email
import email.policy
import hashlib
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from crizotinib_reports.exceptions import CrizotinibReportsError, UsageError
from crizotinib_reports.publish.mail import MailFailed, MailSettings, build_message, mail_settings, send_mail
from support.needs import pinned_module

# A plain-text test server that wants AUTH makes aiosmtpd warn; that is the point of these tests.
auth_without_tls = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

PASSWORD = "s3cr%t-Pa55word!"
USER = "reporter"


def free_port() -> int:
    """A port nothing listens on right now (aiosmtpd's Controller cannot take port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def pdf(tmp_path: Path) -> Path:
    path = tmp_path / "crizotinib-reports combined.pdf"
    path.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + os.urandom(50_000) + b"\x00\r\n.\r\n\n%%EOF\n")
    return path


@dataclass
class Collector:
    """aiosmtpd handler keeping each envelope; refuses recipients at refused.example."""

    envelopes: list = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.endswith("@refused.example"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def authenticator(server, session, envelope, mechanism, auth_data):
    """Accepts USER/PASSWORD; a rude server that echoes a wrong password back in its 535 reply."""
    smtp = pinned_module("aiosmtpd.smtp")
    assert isinstance(auth_data, smtp.LoginPassword)
    if auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode():
        return smtp.AuthResult(success=True, handled=False)  # handled=False: aiosmtpd sends the reply itself
    return smtp.AuthResult(success=False, handled=False,
                      message=f"535 5.7.8 bad password {auth_data.password.decode()}")


@pytest.fixture
def smtp_server() -> Iterator[tuple[Collector, int]]:
    collector = Collector()
    port = free_port()
    controller = pinned_module("aiosmtpd.controller").Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield collector, port
    finally:
        controller.stop()


@pytest.fixture
def auth_smtp_server() -> Iterator[tuple[Collector, int]]:
    collector = Collector()
    port = free_port()
    controller = pinned_module("aiosmtpd.controller").Controller(
        collector, hostname="127.0.0.1", port=port, authenticator=authenticator, auth_required=True,
        auth_require_tls=False)
    controller.start()
    try:
        yield collector, port
    finally:
        controller.stop()


def plain(port: int, **extra) -> MailSettings:
    return MailSettings(host="127.0.0.1", port=port, sender="Reports <reports@example.org>", starttls=False,
                        timeout=5.0, **extra)


def parse(envelope) -> email.message.EmailMessage:
    return email.message_from_bytes(envelope.original_content, policy=email.policy.default)


# --- sending against a real SMTP server -------------------------------------------------------

def test_pdf_arrives_intact(smtp_server, pdf: Path) -> None:
    collector, port = smtp_server
    lines: list[str] = []
    recipients = ["Ana <ana@example.org>", "bo@example.net"]
    send_mail(plain(port), recipients, "Crizotinib reports 2024-06", "Attached: the combined PDF.\n", pdf,
              log=lines.append)

    assert len(collector.envelopes) == 1
    envelope = collector.envelopes[0]
    assert envelope.mail_from == "reports@example.org"
    assert envelope.rcpt_tos == ["ana@example.org", "bo@example.net"]
    message = parse(envelope)
    assert message["Subject"] == "Crizotinib reports 2024-06"
    assert message["From"] == "Reports <reports@example.org>"
    assert [a.addr_spec for a in message["To"].addresses] == ["ana@example.org", "bo@example.net"]
    assert message["Date"] and message["Message-ID"].endswith("@example.org>")
    body = message.get_body(("plain",)).get_content()
    assert body.splitlines() == ["Attached: the combined PDF."]  # CRLF on the wire
    attachments = list(message.iter_attachments())
    assert len(attachments) == 1
    part = attachments[0]
    assert part.get_content_type() == "application/pdf"
    assert part.get_filename() == pdf.name
    assert hashlib.sha256(part.get_content()).hexdigest() == hashlib.sha256(pdf.read_bytes()).hexdigest()
    assert len(lines) == 1 and pdf.name in lines[0] and "ana@example.org, bo@example.net" in lines[0]


@auth_without_tls
def test_login_works_and_password_stays_hidden(auth_smtp_server, pdf: Path) -> None:
    collector, port = auth_smtp_server
    settings = plain(port, user=USER, password=PASSWORD)
    lines: list[str] = []
    send_mail(settings, ["ana@example.org"], "s", "b", pdf, log=lines.append)

    assert len(collector.envelopes) == 1
    assert hashlib.sha256(next(parse(collector.envelopes[0]).iter_attachments()).get_content()).digest() \
        == hashlib.sha256(pdf.read_bytes()).digest()
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings)
    assert lines and all(PASSWORD not in line for line in lines)
    assert any("without TLS" in line for line in lines)  # login in clear text is called out


@auth_without_tls
def test_wrong_password_is_one_line_without_the_password(auth_smtp_server, pdf: Path) -> None:
    collector, port = auth_smtp_server
    with pytest.raises(MailFailed) as info:
        send_mail(plain(port, user=USER, password=PASSWORD + "x"), ["ana@example.org"], "s", "b", pdf,
                  log=lambda line: None)
    text = str(info.value)
    assert "\n" not in text and PASSWORD not in text
    assert f"127.0.0.1:{port}" in text and f"logging in as {USER}" in text and "535" in text
    assert "bad password ***" in text  # the server echoed it; the message blanks it out
    assert info.value.__cause__ is None  # the smtplib error held the password: not chained
    assert info.value.exit_code == 1 and isinstance(info.value, CrizotinibReportsError)
    assert collector.envelopes == []


@auth_without_tls
def test_login_required_but_no_user(auth_smtp_server, pdf: Path) -> None:
    _, port = auth_smtp_server
    with pytest.raises(MailFailed, match="while sending: 530"):
        send_mail(plain(port), ["ana@example.org"], "s", "b", pdf, log=lambda line: None)


def test_server_without_starttls(smtp_server, pdf: Path) -> None:
    _, port = smtp_server
    settings = MailSettings(host="127.0.0.1", port=port, sender="reports@example.org", timeout=5.0)
    with pytest.raises(MailFailed, match="while starting TLS: .*STARTTLS.*CRIZOTINIB_SMTP_STARTTLS=false"):
        send_mail(settings, ["ana@example.org"], "s", "b", pdf, log=lambda line: None)


def test_some_recipients_refused(smtp_server, pdf: Path) -> None:
    collector, port = smtp_server
    lines: list[str] = []
    with pytest.raises(MailFailed, match=r"refused \(nobody@refused.example: 550"):
        send_mail(plain(port), ["ana@example.org", "nobody@refused.example"], "s", "b", pdf, log=lines.append)
    assert collector.envelopes[0].rcpt_tos == ["ana@example.org"]
    assert "ana@example.org" in lines[-1] and "refused.example" not in lines[-1]


def test_all_recipients_refused(smtp_server, pdf: Path) -> None:
    collector, port = smtp_server
    with pytest.raises(MailFailed, match=r"while sending: recipients refused"):
        send_mail(plain(port), ["nobody@refused.example"], "s", "b", pdf, log=lambda line: None)
    assert collector.envelopes == []


def test_unreachable_server(pdf: Path) -> None:
    port = free_port()
    settings = MailSettings(host="127.0.0.1", port=port, sender="reports@example.org", user=USER,
                            password=PASSWORD, timeout=2.0)
    lines: list[str] = []
    with pytest.raises(MailFailed) as info:
        send_mail(settings, ["ana@example.org"], "s", "b", pdf, log=lines.append)
    text = str(info.value)
    assert text.startswith(f"mail via 127.0.0.1:{port} failed while connecting: ")
    assert "refused" in text.lower()
    assert "\n" not in text and PASSWORD not in text and PASSWORD not in repr(info.value)
    assert all(PASSWORD not in line for line in lines)


# --- the message --------------------------------------------------------------------------------

def test_build_message_shape(pdf: Path) -> None:
    settings = MailSettings(host="h", sender="reports@example.org")
    message = build_message(settings, ["ana@example.org"], "Subject", "Body", pdf)
    assert message["From"] == "reports@example.org" and message["To"] == "ana@example.org"
    assert message.is_multipart() and message.get_content_type() == "multipart/mixed"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "application/pdf"]


@pytest.mark.parametrize("recipient", ["", "ana", "ana@", "@example.org", "a@x.org, b@y.org",
                                       "ana@example.org\nBcc: eve@example.org"])
def test_bad_recipient(recipient: str, pdf: Path) -> None:
    settings = MailSettings(host="h", sender="reports@example.org")
    with pytest.raises(UsageError, match="recipient must be one mail address"):
        build_message(settings, ["ok@example.org", recipient], "s", "b", pdf)


def test_no_recipients_or_missing_pdf(tmp_path: Path, pdf: Path) -> None:
    settings = MailSettings(host="h", sender="reports@example.org")
    with pytest.raises(UsageError, match="no recipients"):
        build_message(settings, [], "s", "b", pdf)
    with pytest.raises(UsageError, match="cannot attach .*missing.pdf"):
        build_message(settings, ["ana@example.org"], "s", "b", tmp_path / "missing.pdf")
    with pytest.raises(UsageError, match="subject must be one line"):
        build_message(settings, ["ana@example.org"], "s\r\nBcc: eve@example.org", "b", pdf)


def test_repr_hides_password() -> None:
    settings = MailSettings(host="h", sender="a@b.c", user="u", password=PASSWORD)
    assert PASSWORD not in repr(settings) and "password" not in repr(settings)


# --- settings -----------------------------------------------------------------------------------

ENV = {"CRIZOTINIB_SMTP_HOST": "smtp.example.org", "CRIZOTINIB_SMTP_SENDER": "reports@example.org"}


def write_config(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "mail.ini"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_settings_from_env() -> None:
    settings = mail_settings(environ={**ENV, "CRIZOTINIB_SMTP_PORT": "2525", "CRIZOTINIB_SMTP_USER": "u",
                                      "CRIZOTINIB_SMTP_PASSWORD": PASSWORD, "CRIZOTINIB_SMTP_STARTTLS": "No"})
    assert settings == MailSettings(host="smtp.example.org", port=2525, sender="reports@example.org", user="u",
                                    password=PASSWORD, starttls=False)


def test_settings_defaults() -> None:
    settings = mail_settings(environ=ENV)
    assert (settings.port, settings.starttls, settings.user, settings.password) == (587, True, None, None)


def test_settings_from_file_and_env_overrides(tmp_path: Path) -> None:
    config = write_config(tmp_path, "[smtp]\nhost = file.example.org\nport = 25\nsender = file@example.org\n"
                                    f"user = fileuser\npassword = {PASSWORD}\nstarttls = yes\n")
    from_file = mail_settings(config, environ={})
    assert from_file == MailSettings(host="file.example.org", port=25, sender="file@example.org", user="fileuser",
                                     password=PASSWORD, starttls=True)  # '%' kept: no interpolation
    both = mail_settings(config, environ={"CRIZOTINIB_SMTP_HOST": "env.example.org", "CRIZOTINIB_SMTP_PORT": "465",
                                          "CRIZOTINIB_SMTP_PASSWORD": "other", "CRIZOTINIB_SMTP_STARTTLS": "0",
                                          "CRIZOTINIB_SMTP_USER": ""})  # empty counts as unset
    assert both == MailSettings(host="env.example.org", port=465, sender="file@example.org", user="fileuser",
                                password="other", starttls=False)


def test_password_file(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text(PASSWORD + "\n", encoding="utf-8")
    (tmp_path / "secret").chmod(0o600)
    config = write_config(tmp_path, "[smtp]\nhost = h\nsender = a@b.c\nuser = u\npassword_file = secret\n")
    assert mail_settings(config, environ={}).password == PASSWORD


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_exposed_password_is_refused(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"[smtp]\nhost = h\nsender = a@b.c\nuser = u\npassword = {PASSWORD}\n", 0o644)
    refused = r"readable by group or others \(mode 0644\); run 'chmod 600 .*mail.ini'"
    with pytest.raises(UsageError, match=refused) as info:
        mail_settings(config, environ={})
    assert PASSWORD not in str(info.value)
    secret = tmp_path / "secret"
    secret.write_text(PASSWORD, encoding="utf-8")
    secret.chmod(0o640)
    config = write_config(tmp_path, "[smtp]\nhost = h\nsender = a@b.c\nuser = u\npassword_file = secret\n")
    with pytest.raises(UsageError, match=r"password_file .*secret is readable by group or others \(mode 0640\)"):
        mail_settings(config, environ={})
    # without a password in it, the config file may be world-readable
    config = write_config(tmp_path, "[smtp]\nhost = h\nsender = a@b.c\n", 0o644)
    assert mail_settings(config, environ={}).host == "h"


@pytest.mark.parametrize(("env", "match"), [
    ({"CRIZOTINIB_SMTP_HOST": ""}, "no SMTP server given; set CRIZOTINIB_SMTP_HOST"),
    ({"CRIZOTINIB_SMTP_SENDER": ""}, "no sender address given; set CRIZOTINIB_SMTP_SENDER"),
    ({"CRIZOTINIB_SMTP_SENDER": "reports"}, "CRIZOTINIB_SMTP_SENDER must be one mail address"),
    ({"CRIZOTINIB_SMTP_PORT": "smtp"}, "CRIZOTINIB_SMTP_PORT must be a port number from 1 to 65535"),
    ({"CRIZOTINIB_SMTP_PORT": "70000"}, "CRIZOTINIB_SMTP_PORT must be a port number"),
    ({"CRIZOTINIB_SMTP_STARTTLS": "maybe"}, "CRIZOTINIB_SMTP_STARTTLS takes true/false, yes/no or 1/0, got 'maybe'"),
    ({"CRIZOTINIB_SMTP_USER": "u"}, "CRIZOTINIB_SMTP_USER is set but no password is; set CRIZOTINIB_SMTP_PASSWORD"),
    ({"CRIZOTINIB_SMTP_PASSWORD": PASSWORD}, "no user to log in as; set CRIZOTINIB_SMTP_USER"),
])
def test_bad_env_setting(env: dict[str, str], match: str) -> None:
    with pytest.raises(UsageError, match=match) as info:
        mail_settings(environ={**ENV, **env})
    text = str(info.value)
    assert "\n" not in text and PASSWORD not in text and info.value.exit_code == 2


@pytest.mark.parametrize(("text", "match"), [
    ("[smtp]\nhost = h\nsender = a@b.c\nport = x\n", r"'port' in \[smtp\] of .*mail.ini must be a port number"),
    ("[smtp]\nhost = h\nsender = a@b.c\nstarttls = sure\n", r"'starttls' in \[smtp\] of .*mail.ini takes true/false"),
    ("[smtp]\nhost = h\nsender = a@b.c\nhots = x\n", r"unknown key 'hots' in \[smtp\] of .*mail.ini"),
    ("[mail]\nhost = h\n", r"mail.ini has no \[smtp\] section"),
    ("[smtp]\nsender = a@b.c\n", r"no SMTP server given; set CRIZOTINIB_SMTP_HOST or 'host' in \[smtp\] of"),
    (f"host = h\n[smtp]\npassword = {PASSWORD}\n", r"not a valid INI file \(line 1 comes before any \[section\]"),
    (f"[smtp]\nhost = h\n{PASSWORD}\n", r"not a valid INI file \(line 3 is not 'key = value'\)"),
    ("[smtp]\nhost = h\nhost = i\n", r"key 'host' appears twice in \[smtp\], again on line 3"),
    ("[smtp]\nhost = h\nsender = a@b.c\nuser = u\npassword = p\npassword_file = f\n",
     "both password and password_file"),
    ("[smtp]\nhost = h\nsender = a@b.c\nuser = u\npassword_file = nope\n", r"cannot read password_file .*nope"),
])
def test_bad_config_file(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(UsageError, match=match) as info:
        mail_settings(write_config(tmp_path, text), environ={})
    assert "\n" not in str(info.value) and PASSWORD not in str(info.value)


def test_unreadable_config_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"cannot read mail config file .*absent.ini: No such file"):
        mail_settings(tmp_path / "absent.ini", environ=ENV)
