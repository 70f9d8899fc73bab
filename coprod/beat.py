"""Beat's scheduler with Redis: RedBeat, riding out a Redis outage.

RedBeat keeps the schedule and a lock (one beat fires, however many run) in Redis, and extends
the lock on every tick. When Redis goes away the extend raises, and `celery beat` exits
("beat raised exception ConnectionError"): the sweeps, the outbox relay and the digest builds
stop until someone restarts it. RedBeat's own `retry_period` option does not cover this: the
lock keeps the unwrapped Redis client, so its extend is never retried, and a Redis that comes
back empty has lost the lock and the schedule anyway.

This scheduler catches Redis errors instead: it logs once, fires nothing, and tries again on
each wake-up. Once Redis answers it holds the lock again (keeps it if it still owns it, else
takes it only when no other beat holds it: still one beat fires), installs the schedule's
entries again (what is stored keeps its last run) and goes on.
"""

from __future__ import annotations

import logging

import redis
from kombu.exceptions import OperationalError
from redbeat.schedulers import LUA_EXTEND_TO_SCRIPT, RedBeatScheduler, get_redis

log = logging.getLogger(__name__)

REDIS_TROUBLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                 redis.exceptions.LockError, OperationalError, OSError)


class ResilientRedBeatScheduler(RedBeatScheduler):
    """RedBeat whose tick survives Redis going away and coming back (empty or not)."""

    _outage = False

    def setup_schedule(self):
        try:
            super().setup_schedule()
        except REDIS_TROUBLE as exc:  # Redis down as beat starts: install once it answers
            self._lost(exc)

    def tick(self, min=min, **kwargs):
        try:
            if self._outage or (self.lock_key and self.lock is None):
                if self.lock_key and not self._hold_lock():
                    return self.max_interval  # another beat holds the lock: it fires
                super().setup_schedule()
                if self._outage:
                    log.warning("beat: Redis answers again; the schedule goes on")
                self._outage = False
            return super().tick(min=min, **kwargs)
        except REDIS_TROUBLE as exc:
            self._lost(exc)
            return self.max_interval

    def _lost(self, exc: BaseException) -> None:
        if not self._outage:
            log.warning("beat: Redis is unreachable (%s: %s); firing nothing until it "
                        "answers again", type(exc).__name__, exc)
        self._outage = True

    def _hold_lock(self) -> bool:
        """Own the lock: still (its key kept our token) or anew (nobody holds it)."""
        if self.lock is None:
            client = get_redis(self.app)
            self.lock = client.lock(self.lock_key, timeout=self.lock_timeout,
                                    sleep=self.max_interval)
            # RedBeat's extend sets the expiry (redis-py's would add to it).
            self.lock.lua_extend = client.register_script(LUA_EXTEND_TO_SCRIPT)
        if self.lock.local.token is not None and self.lock.owned():
            return True
        if self.lock.acquire(blocking=False):
            log.info("beat: Acquired lock")
            return True
        return False

    def close(self):
        try:
            super().close()
        except REDIS_TROUBLE as exc:  # stopping while Redis is away: the lock expires
            log.warning("beat: could not release the lock (%s)", exc)
