"""The login window's logic: which fields to show, inline validation, error wording.

Validation mirrors the server's rules (`pymeet.protocol.validation`, PROTOCOL.md
§3.5) so that most mistakes are explained next to the field before any round trip;
the server's own refusals are mapped onto the same fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pymeet.client.errors import (
    CertificateMismatch,
    ConnectionClosed,
    KnownServersError,
    RequestTimeout,
    UntrustedServer,
)
from pymeet.protocol.errors import InvalidField, RequestError
from pymeet.protocol.validation import (
    check_email,
    check_login_identifier,
    check_password,
    check_password_attempt,
    check_username,
)

__all__ = [
    "LOGIN",
    "REGISTER",
    "LoginForm",
    "LoginPresenter",
    "describe_error",
    "parse_server_address",
    "validate",
]

Mode = Literal["login", "register"]
LOGIN: Mode = "login"
REGISTER: Mode = "register"
DEFAULT_PORT = 7400
FIELDS_BY_MODE: dict[str, tuple[str, ...]] = {
    LOGIN: ("server", "username", "password"),
    REGISTER: ("server", "username", "email", "password"),
}


@dataclass(frozen=True)
class LoginForm:
    """What the person typed."""

    mode: Mode
    server: str
    username: str
    password: str
    email: str = ""


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def parse_server_address(text: str) -> tuple[str, int]:
    """``host:port``, ``[v6]:port`` or ``host`` (port 7400) -> (host, port).

    Raises ValueError with a sentence for the person.
    """
    text = text.strip()
    problem = ValueError("Enter the server as host:port, for example 192.168.1.20:7400.")
    if not text or any(ch.isspace() for ch in text) or text.endswith(":"):
        raise problem
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise problem
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    elif ":" in text:
        raise problem  # a bare IPv6 address needs brackets
    else:
        host, port_text = text, ""
    if not host:
        raise problem
    if not port_text:
        return host, DEFAULT_PORT
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError("The port is a number from 1 to 65535, for example 7400.")
    return host, int(port_text)


def validate(form: LoginForm) -> dict[str, str]:
    """Field name -> what is wrong with it, for every field shown in ``form.mode``."""
    errors: dict[str, str] = {}
    try:
        parse_server_address(form.server)
    except ValueError as exc:
        errors["server"] = str(exc)
    checks = {
        "username": check_login_identifier if form.mode == LOGIN else check_username,
        "password": check_password_attempt if form.mode == LOGIN else check_password,
    }
    if form.mode == REGISTER:
        checks["email"] = check_email
    for name, check in checks.items():
        value = getattr(form, name)
        if not value:
            errors[name] = {
                "username": ("Enter your username or email." if form.mode == LOGIN
                             else "Choose a username."),
                "email": "Enter your email address.",
                "password": ("Enter your password." if form.mode == LOGIN
                             else "Choose a password of at least 8 characters."),
            }[name]
            continue
        try:
            check(value)
        except InvalidField as exc:
            errors[name] = _sentence(exc.message)
    return errors


def describe_error(exc: BaseException) -> tuple[str | None, str]:
    """(form field or None, sentence) for a failed connect, register or login."""
    if isinstance(exc, RequestError):
        code = exc.raw_code
        if code == "auth_failed":
            return "password", "Wrong username or password."
        if code == "user_exists":
            return "username", "This username is taken. Choose another one."
        if code == "email_exists":
            return "email", "An account with this email exists already. Log in instead."
        if code == "invalid_field":
            name = exc.field if exc.field in ("username", "email", "password") else None
            return name, _sentence(exc.message)
        if code == "rate_limited":
            wait = exc.extra.get("retry_after")
            if isinstance(wait, int | float) and wait > 0:
                return None, f"Too many attempts. Try again in {int(wait + 0.999)} seconds."
            return None, "Too many attempts. Wait a moment and try again."
        if code == "unsupported_protocol":
            return "server", "This server speaks another version of PyMeet."
        return None, _sentence(exc.message or code)
    if isinstance(exc, CertificateMismatch):
        return "server", "The server's identity has changed. The connection was refused."
    if isinstance(exc, UntrustedServer):
        return "server", "Not connected: you did not trust this server."
    if isinstance(exc, KnownServersError):
        return None, _sentence(str(exc))
    if isinstance(exc, RequestTimeout):
        return "server", "The server did not answer in time. Try again."
    if isinstance(exc, ConnectionClosed | OSError):
        detail = str(exc)
        return "server", _sentence(f"Cannot reach the server ({detail})" if detail
                                   else "Cannot reach the server")
    return None, _sentence(f"Something went wrong: {exc}")


@dataclass
class LoginPresenter:
    """The state of the login window."""

    mode: Mode = LOGIN
    errors: dict[str, str] = field(default_factory=dict)
    status: str = ""
    busy: bool = False
    attempted: bool = False
    """True after the first submit: from then on fields are re-checked as they change."""

    @property
    def fields(self) -> tuple[str, ...]:
        """The fields shown in the current mode, in order."""
        return FIELDS_BY_MODE[self.mode]

    @property
    def submit_label(self) -> str:
        """The text of the main button."""
        return "Log in" if self.mode == LOGIN else "Create account"

    @property
    def username_label(self) -> str:
        """The label of the first identity field."""
        return "Username or email" if self.mode == LOGIN else "Username"

    def set_mode(self, mode: Mode) -> None:
        """Switch between logging in and registering; forgets old messages."""
        self.mode = mode
        self.errors = {}
        self.status = ""
        self.attempted = False

    def submit(self, form: LoginForm) -> bool:
        """Check ``form``; True when it may be sent. Messages land in ``errors``."""
        self.attempted = True
        self.errors = validate(form)
        self.status = ""
        return not self.errors

    def recheck(self, form: LoginForm) -> None:
        """After a first attempt, refresh the messages as the person types."""
        if self.attempted:
            self.errors = validate(form)

    def start(self, status: str) -> None:
        """A request is under way."""
        self.busy = True
        self.status = status

    def failed(self, exc: BaseException) -> None:
        """The request failed: show why, next to the field at fault when there is one."""
        self.busy = False
        name, text = describe_error(exc)
        if name is not None and name in self.fields:
            self.errors = {name: text}
            self.status = ""
        else:
            self.errors = {}
            self.status = text

    def done(self) -> None:
        """The request succeeded."""
        self.busy = False
        self.status = ""
        self.errors = {}
        self.attempted = False
