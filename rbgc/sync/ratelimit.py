"""Client-side rate limit of `rbgc sync`: a token bucket over every request (`--qps`, `--burst`).

client-go's (`flowcontrol.NewTokenBucketRateLimiter`, golang.org/x/time/rate): the bucket holds
at most `burst` tokens and starts full; it refills at `qps` tokens a second; each request takes
one, and waits until one has accrued when none is left. Pure but for the injected clock, so
tests run it on a fake one. `qps <= 0` disables it (every request goes at once), as
controller-runtime's default since v0.21 does, relying on the API server's priority and fairness.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rbgc.sync.cluster import Clock

# controller-runtime's defaults through v0.20 (pkg/client/config/config.go, "Default REST
# Config QPS to match KCM", a82afb4e: 20 QPS, burst 30, the kube-controller-manager's own
# --kube-api-qps / --kube-api-burst); client-go alone would allow 5 / 10 (rest.DefaultQPS,
# rest.DefaultBurst).
DEFAULT_QPS = 20.0
DEFAULT_BURST = 30


@dataclass(slots=True)
class TokenBucket:
    qps: float = DEFAULT_QPS
    burst: int = DEFAULT_BURST
    tokens: float = field(init=False)
    last: float | None = None  # when the bucket was last filled, on the clock of `take`
    waited: float = 0.0  # seconds spent waiting for a token, in all

    def __post_init__(self) -> None:
        self.tokens = float(max(self.burst, 1))

    def take(self, clock: Clock) -> float:
        """Take a token, waiting on `clock` until one is there; the seconds waited."""
        if self.qps <= 0:
            return 0.0
        now = clock.now()
        full = float(max(self.burst, 1))
        if self.last is not None:
            self.tokens = min(full, self.tokens + (now - self.last) * self.qps)
        self.last = now
        self.tokens -= 1.0
        if self.tokens >= 0:
            return 0.0
        # In debt: this request goes once the bucket has refilled the token (as x/time/rate's
        # reservations do); the next take counts the refill from `last`.
        wait = -self.tokens / self.qps
        clock.sleep(wait)
        self.waited += wait
        return wait
