from __future__ import annotations

from pymeet.gui.presenters.status import (
    RESTORED_FLASH,
    ConnectionPresenter,
    quality_from_snapshot,
)


def test_connection_banner_follows_the_client_events() -> None:
    c = ConnectionPresenter()
    c.connected()
    assert c.banner(0) is None and c.can_send
    c.apply({"type": "connection.lost", "reason": "reset", "will_reconnect": True}, 1.0)
    banner = c.banner(1.0)
    assert banner is not None and banner.level == "warning" and "Reconnecting" in banner.text
    assert not c.can_send
    c.apply({"type": "connection.restored", "room": "x", "rejoin_error": None}, 5.0)
    assert c.banner(5.0 + RESTORED_FLASH / 2).text == "Reconnected."  # type: ignore[union-attr]
    assert c.banner(5.0 + RESTORED_FLASH + 0.1) is None
    c.apply({"type": "connection.failed", "reason": "the certificate changed"}, 9.0)
    assert c.banner(9.0).text == "Disconnected: the certificate changed."  # type: ignore[union-attr]


def test_a_replaced_session_is_explained() -> None:
    c = ConnectionPresenter()
    c.connected()
    assert c.apply({"type": "session.closed", "reason": "replaced"}, 0)
    assert c.state == "failed" and "another" in c.reason
    assert not c.apply({"type": "chat.message"}, 0)


def snapshot(rtt: float | None, *losses: float, path: str = "udp") -> dict:
    return {"path": path, "rtt_ms": rtt,
            "streams": {i: {"packets": 10, "idle_s": 0.1, "recent_loss_percent": loss}
                        for i, loss in enumerate(losses)}}


def test_quality_levels() -> None:
    assert quality_from_snapshot(None).level == "unknown"
    assert quality_from_snapshot(snapshot(None)).text == "Measuring…"
    good = quality_from_snapshot(snapshot(12.4, 0.0))
    assert (good.level, good.text) == ("good", "Good · 12 ms · 0% loss")
    assert "over UDP" in good.detail
    assert quality_from_snapshot(snapshot(200, 1.0)).level == "fair"
    poor = quality_from_snapshot(snapshot(20, 0.5, 12.0, path="tunnel"))
    assert poor.level == "poor" and "12% loss" in poor.text
    assert "UDP is blocked" in poor.detail
    alone = quality_from_snapshot(snapshot(30))
    assert alone.text == "Good · 30 ms" and "Nobody is sending" in alone.detail


def test_idle_streams_do_not_count() -> None:
    snap = snapshot(10, 50.0)
    snap["streams"][0]["idle_s"] = 30
    assert quality_from_snapshot(snap).level == "good"
