"""Operator notifications (Discord, Telegram) from the structured log events.

``install_from_env()`` (called by ``core.log.setup_logging``) does nothing unless one of
MM_DISCORD_WEBHOOK_URL / MM_TELEGRAM_BOT_TOKEN / MM_TELEGRAM_CHAT_ID is set. Then it
puts a ``NotifyHandler`` on the root logger: trading never waits for it, whatever the
endpoints do. ``heartbeat(name)`` marks something alive (silence becomes "down");
``stats()`` gives the counters (sent, dropped, failed, rate limited) for metrics.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from core.log import event, get_logger
from monitoring.notify.config import NotifyConfig, load_notify_config, notifier_env_set
from monitoring.notify.dedup import Deduper
from monitoring.notify.destinations import Destination, Discord, Telegram
from monitoring.notify.hub import BEATS, NotifyHandler
from monitoring.notify.router import Router
from monitoring.notify.sender import Sender

log = get_logger(__name__)
_installed: NotifyHandler | None = None

__all__ = ["heartbeat", "install", "install_from_env", "stats", "uninstall"]


def destinations(cfg: NotifyConfig) -> list[Destination]:
    out: list[Destination] = []
    if cfg.discord_webhook_url is not None:
        out.append(Discord(webhook_url=cfg.discord_webhook_url))
    if cfg.telegram_bot_token is not None and cfg.telegram_chat_id:
        out.append(Telegram(bot_token=cfg.telegram_bot_token, chat_id=cfg.telegram_chat_id,
                            api_url=cfg.telegram_api_url))  # fmt: skip
    return out


def install(cfg: NotifyConfig) -> NotifyHandler | None:
    """Start the notifier for this process (once) on the root logger."""
    global _installed
    if _installed is not None:
        return _installed
    dests = destinations(cfg)
    if not dests:
        return None
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request
    router = Router(cfg.notify_fill_batch_s, cfg.notify_storm_count, cfg.notify_storm_window_s,
                    cfg.notify_recorder_silence_s)  # fmt: skip
    senders = [Sender(d, cfg.notify_queue_size, cfg.notify_timeout_s) for d in dests]
    handler = NotifyHandler(
        router,
        senders,
        Deduper(cfg.notify_dedup_s),
        close_wait_s=cfg.notify_close_wait_s,
        tick_s=cfg.notify_tick_s,
    ).start()
    logging.getLogger().addHandler(handler)
    _installed = handler
    event(log, logging.INFO, "notifier_started", destinations=",".join(d.name for d in dests))
    return handler


def install_from_env() -> NotifyHandler | None:
    if not notifier_env_set():
        return None
    return install(load_notify_config())


def uninstall() -> None:
    """Close the notifier (its last messages get ``close_wait_s``) and detach it."""
    global _installed
    handler, _installed = _installed, None
    if handler is not None:
        logging.getLogger().removeHandler(handler)
        handler.close()


def heartbeat(name: str) -> None:
    """Mark ``name`` alive now (cheap: a dict store; a no-op without a notifier)."""
    if _installed is not None:
        BEATS[name] = time.time()


def stats() -> dict[str, Any]:
    """The installed notifier's counters (``{}`` without one); see ``NotifyHandler.stats``."""
    return _installed.stats() if _installed is not None else {}
