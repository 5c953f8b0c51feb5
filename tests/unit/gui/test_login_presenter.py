from __future__ import annotations

import pytest

from pymeet.client.errors import CertificateMismatch, ConnectionClosed, UntrustedServer
from pymeet.gui.presenters.login import (
    LOGIN,
    REGISTER,
    LoginForm,
    LoginPresenter,
    describe_error,
    parse_server_address,
    validate,
)
from pymeet.protocol.errors import RequestError


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1:7400", ("127.0.0.1", 7400)),
    ("meet.example.org", ("meet.example.org", 7400)),
    (" host:1 ", ("host", 1)),
    ("[::1]:7400", ("::1", 7400)),
    ("[::1]", ("::1", 7400)),
])
def test_server_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_server_address(text) == expected


@pytest.mark.parametrize("text", ["", "host:", "host:0", "host:65536", "host:abc", "::1",
                                  "a b:1", ":7400", "[::1]x"])
def test_bad_server_addresses_are_explained(text: str) -> None:
    with pytest.raises(ValueError, match=r"\w"):
        parse_server_address(text)


def form(mode: str = LOGIN, **fields: str) -> LoginForm:
    values = {"server": "127.0.0.1:7400", "username": "alice", "password": "secret12",
              "email": "alice@example.org"}
    values.update(fields)
    return LoginForm(mode=mode, **values)  # type: ignore[arg-type]


def test_a_good_form_has_no_messages() -> None:
    assert validate(form(LOGIN)) == {}
    assert validate(form(REGISTER)) == {}
    assert validate(form(LOGIN, username="alice@example.org")) == {}


def test_register_mirrors_the_server_rules() -> None:
    errors = validate(form(REGISTER, username="x!", email="nope", password="short"))
    assert set(errors) == {"username", "email", "password"}
    assert "3 to 32" in errors["username"]
    assert errors["email"].endswith(".")
    assert "8" in errors["password"]


def test_login_accepts_short_passwords_but_not_empty_fields() -> None:
    assert validate(form(LOGIN, password="x")) == {}
    errors = validate(form(LOGIN, username="", password="", server="bad host"))
    assert errors == {"username": "Enter your username or email.",
                      "password": "Enter your password.",
                      "server": "Enter the server as host:port, for example 192.168.1.20:7400."}


def test_server_refusals_land_on_their_field() -> None:
    assert describe_error(RequestError("auth_failed", "no")) == (
        "password", "Wrong username or password.")
    assert describe_error(RequestError("user_exists", "x"))[0] == "username"
    assert describe_error(RequestError("email_exists", "x"))[0] == "email"
    assert describe_error(RequestError("invalid_field", "bad thing", field="email")) == (
        "email", "Bad thing.")
    field, text = describe_error(RequestError("rate_limited", "slow", extra={"retry_after": 4.2}))
    assert field is None and "5 seconds" in text
    assert describe_error(ConnectionClosed("cannot connect to h:1: refused"))[0] == "server"
    assert "did not trust" in describe_error(UntrustedServer("no"))[1]
    mismatch = CertificateMismatch("m", host_port="h:1", expected="a" * 64, actual="b" * 64)
    assert describe_error(mismatch)[0] == "server"


def test_presenter_flow() -> None:
    presenter = LoginPresenter()
    assert presenter.fields == ("server", "username", "password")
    assert presenter.submit_label == "Log in"
    presenter.set_mode(REGISTER)
    assert presenter.fields == ("server", "username", "email", "password")
    assert presenter.submit_label == "Create account"
    assert not presenter.submit(form(REGISTER, email="bad"))
    assert set(presenter.errors) == {"email"}
    presenter.recheck(form(REGISTER))
    assert presenter.errors == {}
    presenter.start("Connecting…")
    assert presenter.busy
    presenter.failed(RequestError("user_exists", "taken"))
    assert not presenter.busy and "taken" in presenter.errors["username"]
    presenter.failed(RequestError("internal", "server trouble"))
    assert presenter.errors == {} and presenter.status == "Server trouble."
    presenter.done()
    assert presenter.status == "" and not presenter.busy
    presenter.recheck(form(REGISTER, password=""))
    assert presenter.errors == {}, "a finished attempt is not re-checked as fields clear"


def test_messages_for_fields_not_shown_go_to_the_status_line() -> None:
    presenter = LoginPresenter(mode=LOGIN)
    presenter.failed(RequestError("email_exists", "x"))
    assert presenter.errors == {}
    assert "exists" in presenter.status
