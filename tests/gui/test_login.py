"""The login window on a real display: typing, validation, trusting a server."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from pymeet.client.known_servers import KnownServers, format_fingerprint
from pymeet.gui.views.dialogs import MismatchDialog, TrustDialog
from tests.gui.conftest import PASSWORD, Driver
from tests.support.server_process import ServerProcess


def test_register_by_keyboard_and_mouse_then_log_in_by_email(
        server: ServerProcess, make_app: Callable[..., Driver], gui_env: Path) -> None:
    driver = make_app(server)
    app, view = driver.app, driver.app.login_view
    assert view.fields["server"].value == f"127.0.0.1:{server.port}"
    driver.screenshot("login")

    # A real pointer and keyboard: switch to "Create account" and fill the form.
    driver.click(view.register_tab)
    driver.until(lambda: view.email_entry.winfo_ismapped(), "the email field")
    driver.click(view.username_entry)
    driver.type("x!")
    driver.click(view.email_entry)
    driver.type("not-an-email")
    driver.click(view.password_entry)
    driver.type("short")
    driver.key("Return")
    driver.until(lambda: view.error_text("password"), "inline messages")
    assert "username" in view.error_text("username").lower()
    assert "email" in view.error_text("email").lower()
    assert "8" in view.error_text("password")
    assert app.open_dialogs() == [], "nothing was sent to the server"

    # Messages follow the typing once shown.
    driver.click(view.username_entry)
    driver.key("BackSpace")
    driver.key("BackSpace")
    driver.type("carol_01")
    driver.until(lambda: view.error_text("username") == "", "the username message to clear")
    view.fields["email"].var.set("carol@example.org")
    view.fields["password"].var.set(PASSWORD)
    driver.click(view.submit_button)

    # First contact: the fingerprint is shown as AB:CD:… and must be trusted.
    dialog = driver.until(lambda: app.open_dialogs(TrustDialog), "the trust dialog")[0]
    shown = dialog.fingerprint_text.replace("\n", ":")
    assert shown == format_fingerprint(server.fingerprint)
    driver.screenshot("trust-dialog")
    driver.click(dialog.trust_button)
    driver.until(lambda: app.me == "carol_01", "the lobby")
    assert app.shell.current is app.lobby_view
    pins = KnownServers(gui_env / "known_servers.json").load()
    assert pins[f"127.0.0.1:{server.port}"] == server.fingerprint

    # The last server and username are remembered (never the password).
    settings = json.loads((gui_env / "gui.json").read_text())
    assert settings["server"] == f"127.0.0.1:{server.port}"
    assert settings["username"] == "carol_01"
    assert PASSWORD not in (gui_env / "gui.json").read_text()

    # Log out, then log in by email: the pinned server is not asked about again.
    driver.click(app.shell.logout_button)
    driver.until(lambda: view.winfo_ismapped(), "the login window")
    assert view.fields["username"].value == "carol_01"
    view.login_tab.invoke()
    view.fields["username"].var.set("carol@example.org")
    view.fields["password"].var.set("wrong password")
    view.submit_button.invoke()
    driver.until(lambda: view.error_text("password"), "the refusal")
    assert view.error_text("password") == "Wrong username or password."
    view.fields["password"].var.set(PASSWORD)
    driver.click(view.password_entry)
    driver.key("Return")
    driver.until(lambda: app.me == "carol_01", "the lobby again")
    assert app.open_dialogs(TrustDialog) == []


def test_escape_cancels_the_trust_dialog(server: ServerProcess,
                                         make_app: Callable[..., Driver]) -> None:
    driver = make_app(server)
    app, view = driver.app, driver.app.login_view
    view.fields["username"].var.set("dave")
    view.fields["password"].var.set(PASSWORD)
    view.submit()
    dialog = driver.until(lambda: app.open_dialogs(TrustDialog), "the trust dialog")[0]
    driver.click(dialog.fingerprint_label)
    driver.key("Escape")
    driver.until(lambda: not view.presenter.busy, "the attempt to end")
    assert dialog.closed
    assert "did not trust" in view.error_text("server")
    assert app.me is None


def test_a_changed_certificate_is_refused_with_a_warning(
        server: ServerProcess, make_app: Callable[..., Driver], gui_env: Path) -> None:
    KnownServers(gui_env / "known_servers.json").pin(f"127.0.0.1:{server.port}", "ab" * 32)
    driver = make_app(server)
    app, view = driver.app, driver.app.login_view
    view.fields["username"].var.set("erin")
    view.fields["password"].var.set(PASSWORD)
    view.submit()
    dialog = driver.until(lambda: app.open_dialogs(MismatchDialog), "the warning")[0]
    assert app.open_dialogs(TrustDialog) == [], "never offered to trust the new one"
    assert "changed" in view.error_text("server")
    driver.screenshot("certificate-changed")
    driver.key("Escape", over=dialog.heading)
    driver.until(lambda: dialog.closed, "the warning to close")
    assert app.me is None
    assert KnownServers(gui_env / "known_servers.json").get(
        f"127.0.0.1:{server.port}") == "ab" * 32, "the old pin is kept"



def test_an_unreachable_server_is_explained_next_to_its_field(
        make_app: Callable[..., Driver]) -> None:
    driver = make_app()
    view = driver.app.login_view
    view.fields["server"].var.set("127.0.0.1:1")
    view.fields["username"].var.set("gina")
    view.fields["password"].var.set(PASSWORD)
    view.submit()
    driver.until(lambda: view.error_text("server"), "the server's message")
    assert view.error_text("server").startswith("Cannot reach the server")
    assert not view.presenter.busy and view.submit_button.instate(["!disabled"])
