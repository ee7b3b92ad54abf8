"""Mailing a report run's combined PDF over SMTP, with the standard library only.

Settings come from CRIZOTINIB_SMTP_* environment variables and/or an INI file with an [smtp]
section (keys: host, port, sender, user, password, password_file, starttls); the environment wins.

The password never appears in a repr, a log line or an error message. A config file that holds a
password (or names a password_file) is refused, as ssh refuses a private key, when group or others
may read it; so is a password_file that group or others may read. Fix with `chmod 600 FILE`.
"""

from __future__ import annotations

import configparser
import os
import re
import smtplib
import ssl
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid, parseaddr
from pathlib import Path

from ..exceptions import CrizotinibReportsError, UsageError
from ..input_files import MAIL_FILE_LIMIT, read_input_text
from ..paths import display_path

ENV_PREFIX = "CRIZOTINIB_SMTP_"
SECTION = "smtp"
FILE_KEYS = ("host", "port", "sender", "user", "password", "password_file", "starttls")
TRUE_WORDS = frozenset({"true", "yes", "1"})
FALSE_WORDS = frozenset({"false", "no", "0"})


class MailFailed(CrizotinibReportsError):
    """The SMTP server could not be reached, refused us, dropped the message, or took too long.

    The message names the server and step for the person running the command; `detail` says the
    same without the server's name or the user, for run.json, which is shared and archived.
    """

    exit_code = 1

    def __init__(self, message: str, detail: str):
        super().__init__(message)
        self.detail = detail


@dataclass(frozen=True)
class MailSettings:
    """Where and as whom to send; the password is left out of repr so it never reaches a log."""

    host: str
    port: int = 587
    sender: str = ""
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = True
    timeout: float = 30.0  # each network step
    deadline: float = 120.0  # the whole conversation: a server that trickles a byte at a time cannot hold a run


def _env_name(key: str) -> str:
    return ENV_PREFIX + key.upper()


def _group_or_other_can_read(path: Path) -> int | None:
    """The file's permission bits if group or others may read it (POSIX only), else None."""
    if os.name != "posix":
        return None
    mode = stat.S_IMODE(path.stat().st_mode)
    return mode if mode & (stat.S_IRGRP | stat.S_IROTH) else None


def _refuse_if_exposed(path: Path, what: str) -> None:
    """Like ssh with a private key: a secret others can read is already lost, so do not use it."""
    mode = _group_or_other_can_read(path)
    if mode is not None:
        shown = display_path(path)
        raise UsageError(f"{what.format(shown)} is readable by group or others (mode {mode:04o}); "
                         f"run 'chmod 600 {shown}' (and change the password if others may have read it)")


def _ini_problem(exc: Exception) -> str:
    """Where the file breaks, by line number only: configparser's own text quotes lines, maybe a password."""
    if isinstance(exc, configparser.MissingSectionHeaderError):
        return f"line {exc.lineno} comes before any [section] header"
    if isinstance(exc, configparser.ParsingError):
        numbers = [str(lineno) for lineno, _ in exc.errors]
        if len(numbers) == 1:
            return f"line {numbers[0]} is not 'key = value'"
        return f"lines {', '.join(numbers)} are not 'key = value'"
    if isinstance(exc, configparser.DuplicateOptionError):
        return f"key '{exc.option}' appears twice in [{exc.section}], again on line {exc.lineno}"
    if isinstance(exc, configparser.DuplicateSectionError):
        return f"section [{exc.section}] appears twice, again on line {exc.lineno}"
    return type(exc).__name__


def _read_config(config_file: Path) -> dict[str, str]:
    """The [smtp] keys of the file, with password_file already read into password."""
    shown = display_path(config_file)
    # No interpolation: a '%' in a password must stay a '%'.
    parser = configparser.ConfigParser(interpolation=None)
    text = read_input_text(config_file, limit=MAIL_FILE_LIMIT, what="mail config file")
    try:
        parser.read_string(text, source=shown)
    except configparser.Error as exc:
        raise UsageError(f"mail config file {shown} is not a valid INI file ({_ini_problem(exc)}); "
                         f"write it as '[{SECTION}]' followed by 'key = value' lines") from None
    if not parser.has_section(SECTION):
        raise UsageError(f"mail config file {shown} has no [{SECTION}] section; "
                         f"put host, port, sender, ... under a '[{SECTION}]' line")
    values = dict(parser.items(SECTION))
    unknown = sorted(set(values) - set(FILE_KEYS))
    if unknown:
        raise UsageError(f"unknown key '{unknown[0]}' in [{SECTION}] of {shown}; "
                         f"known keys: {', '.join(FILE_KEYS)}")
    if "password" in values and "password_file" in values:
        raise UsageError(f"[{SECTION}] of {shown} sets both password and password_file; keep one of them")
    if "password" in values or "password_file" in values:
        _refuse_if_exposed(config_file, "mail config file {} holds a password but")
    if "password_file" in values:
        secret_path = Path(os.path.expanduser(values.pop("password_file").strip()))
        if not secret_path.is_absolute():
            secret_path = Path(config_file).parent / secret_path  # relative to the config file
        secret_shown = display_path(secret_path)
        try:
            _refuse_if_exposed(secret_path, "password_file {}")
            secret = read_input_text(secret_path, limit=MAIL_FILE_LIMIT, what="password_file").rstrip("\r\n")
        except OSError as exc:
            raise UsageError(f"cannot read password_file {secret_shown} (named in [{SECTION}] of {shown}): "
                             f"{exc.strerror or exc}; fix the path or the file's permissions") from None
        if not secret:
            raise UsageError(f"password_file {secret_shown} (named in [{SECTION}] of {shown}) is empty; "
                             f"put the password on its first line")
        values["password"] = secret
    return values


def _parse_port(text: str, where: str) -> int:
    try:
        port = int(text.strip())
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise UsageError(f"{where} must be a port number from 1 to 65535 (usually 587), got '{text}'")
    return port


def _parse_bool(text: str, where: str) -> bool:
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise UsageError(f"{where} takes true/false, yes/no or 1/0, got '{text}'")


def _address(text: str, where: str) -> str:
    """The bare address in 'Name <a@b>' or 'a@b'; one address only, no line breaks."""
    if not text or re.search(r"[\r\n\x00]", text):
        raise UsageError(f"{where} must be one mail address such as 'name@example.org', got {text!r}")
    parsed = [addr for _, addr in getaddresses([text]) if addr]
    _, addr = parseaddr(text)
    if len(parsed) != 1 or "@" not in addr or addr.startswith("@") or addr.endswith("@"):
        raise UsageError(f"{where} must be one mail address such as 'name@example.org', got {text!r}")
    return addr


def check_recipients(recipients: list[str]) -> list[str]:
    """The bare addresses, checked before a run starts, so a typo fails in seconds, not after the build."""
    if not recipients:
        raise UsageError("no recipients given; name at least one mail address to send the report to")
    return [_address(r, "recipient") for r in recipients]


def mail_settings(config_file: Path | None = None, environ: Mapping[str, str] | None = None) -> MailSettings:
    """Settings from the config file, then CRIZOTINIB_SMTP_* variables on top (empty ones count as unset)."""
    env = os.environ if environ is None else environ
    values: dict[str, str] = _read_config(Path(config_file)) if config_file is not None else {}
    where = {key: f"'{key}' in [{SECTION}] of {display_path(config_file)}" for key in values} if config_file else {}
    for key in ("host", "port", "sender", "user", "password", "starttls"):
        text = env.get(_env_name(key), "")
        if text.strip():
            values[key] = text
            where[key] = _env_name(key)

    def how(key: str, file_key: str | None = None) -> str:
        in_file = f" or '{file_key or key}' in [{SECTION}] of {display_path(config_file)}" if config_file else ""
        return f"set {_env_name(key)}{in_file}"

    host = values.get("host", "").strip()
    if not host:
        raise UsageError(f"no SMTP server given; {how('host')} (e.g. smtp.example.org)")
    sender = values.get("sender", "").strip()
    if not sender:
        raise UsageError(f"no sender address given; {how('sender')} (e.g. reports@example.org)")
    _address(sender, where["sender"])
    port = _parse_port(values["port"], where["port"]) if "port" in values else 587
    starttls = _parse_bool(values["starttls"], where["starttls"]) if "starttls" in values else True
    user = values.get("user", "").strip() or None
    password = values.get("password") or None
    if user and password is None:
        raise UsageError(f"{where['user']} is set but no password is; "
                         f"{how('password', 'password_file')}")
    if password is not None and not user:
        raise UsageError(f"a password is set ({where['password']}) but no user to log in as; "
                         f"{how('user')}")
    return MailSettings(host=host, port=port, sender=sender, user=user, password=password, starttls=starttls)


def build_message(settings: MailSettings, recipients: list[str], subject: str, body: str,
                  attachment: Path | None) -> EmailMessage:
    """The mail: text body plus the PDF (none for a failure notice), with Date and Message-ID."""
    if not recipients:
        raise UsageError("no recipients given; name at least one mail address to send the report to")
    for recipient in recipients:
        _address(recipient, "recipient")
    sender_addr = _address(settings.sender, "sender")
    if re.search(r"[\r\n]", subject):
        raise UsageError(f"mail subject must be one line, got {subject!r}")
    data = b""
    if attachment is not None:
        attachment = Path(attachment)
        try:
            data = attachment.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot attach {display_path(attachment)}: {exc.strerror or exc}; "
                             f"build the PDF first or give the right path") from None

    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    # The sender's domain, not socket.getfqdn(): no DNS lookup, and an id the receiver can place.
    message["Message-ID"] = make_msgid(domain=sender_addr.rsplit("@", 1)[1])
    message.set_content(body)
    if attachment is not None:
        message.add_attachment(data, maintype="application", subtype="pdf", filename=attachment.name)
    return message


def _detail(exc: BaseException) -> str:
    """One line from an smtplib or socket error: the server's code and text, or the OS reason."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        text = "; ".join(f"{rcpt}: {code} {_decode(msg)}" for rcpt, (code, msg) in exc.recipients.items())
        return f"recipients refused ({text})"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_decode(exc.smtp_error)}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _decode(value: bytes | str) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def _mentions(exc: BaseException, password: str | None) -> bool:
    """Whether the error's own text holds the password; then it is not chained, so --debug cannot show it."""
    if not password:
        return False
    texts = (str(exc), repr(exc.args), _detail(exc))
    escaped = repr(password.encode("utf-8"))[2:-1]  # as it shows inside the repr of bytes
    return any(password in text or escaped in text for text in texts)


def _one_line(text: str, password: str | None) -> str:
    """Collapse whitespace and blank out the password, should a server ever echo it back."""
    if password:
        text = text.replace(password, "***")
    return " ".join(text.split())


def send_mail(settings: MailSettings, recipients: list[str], subject: str, body: str, attachment: Path | None,
              log: Callable[[str], None] = print) -> None:
    """Send the PDF; every SMTP or network failure becomes one MailFailed line naming server and step."""
    message = build_message(settings, recipients, subject, body, attachment)
    sender_addr = _address(settings.sender, "sender")
    to_addrs = [_address(r, "recipient") for r in recipients]
    server = f"{settings.host}:{settings.port}"
    if settings.user and not settings.starttls:
        log(f"warning: logging in to {server} as {settings.user} without TLS (starttls is off); "
            f"the password crosses the network in clear text")

    state: dict = {"step": "connecting", "smtp": None}

    def converse() -> dict:
        smtp = state["smtp"] = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        if settings.starttls:
            state["step"] = "starting TLS"
            smtp.starttls(context=ssl.create_default_context())
        if settings.user:
            state["step"] = "logging in"
            smtp.login(settings.user, settings.password or "")
        state["step"] = "sending"
        return smtp.send_message(message, from_addr=sender_addr, to_addrs=to_addrs)

    try:
        refused = _within(settings.deadline, converse, lambda: state["smtp"] and state["smtp"].close())
    except (smtplib.SMTPException, OSError, TimeoutError) as exc:
        if state["smtp"] is not None:
            state["smtp"].close()
        step = state["step"]
        detail = (f"the server did not finish within {settings.deadline:g} s" if isinstance(exc, TimeoutError)
                  else _detail(exc))
        hint = ""
        if settings.port == 465 and step in ("connecting", "starting TLS"):
            hint = "; port 465 expects implicit TLS, which is not supported: use port 587 with STARTTLS"
        elif step == "connecting":
            hint = f"; check {_env_name('host')} and {_env_name('port')} and that the server is up"
        elif isinstance(exc, smtplib.SMTPNotSupportedError) and step == "starting TLS":
            hint = f"; set {_env_name('starttls')}=false only for a trusted local relay"
        shown_step = f"logging in as {settings.user}" if step == "logging in" else step
        line = _one_line(f"mail via {server} failed while {shown_step}: {detail}{hint}", settings.password)
        public = _one_line(f"failed while {step}: {detail}", settings.password)
        if settings.user:
            public = public.replace(settings.user, "(user)")
        raise MailFailed(line, public.replace(settings.host, "(server)")) from (
            None if _mentions(exc, settings.password) else exc)
    smtp = state["smtp"]
    try:
        smtp.quit()  # the server took the message: a failed goodbye must not make anyone send it twice
    except (smtplib.SMTPException, OSError):
        smtp.close()

    delivered = [a for a in to_addrs if a not in refused]
    what = display_path(Path(attachment)) if attachment is not None else f"'{subject}'"
    log(f"mailed {what} to {', '.join(delivered)} via {server}")
    if refused:
        text = "; ".join(f"{rcpt}: {code} {_decode(msg)}" for rcpt, (code, msg) in refused.items())
        raise MailFailed(_one_line(f"mail via {server}: some recipients were refused ({text})", settings.password),
                         f"{len(refused)} of {len(to_addrs)} recipients refused")


def _within(seconds: float, work: Callable[[], object], abort: Callable[[], object]) -> object:
    """`work()` in a thread, or TimeoutError after `seconds` (then `abort()` closes its socket to end it)."""
    import threading

    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True, name="smtp")
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        abort()
        raise TimeoutError(f"did not finish within {seconds:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
