"""A token bucket."""
import time


class TokenBucket:
    def __init__(self, rate: float, capacity: int, clock=time.monotonic):
        if rate <= 0 or capacity <= 0:
            raise ValueError("rate and capacity must be positive")
        self.rate, self.capacity, self.clock = rate, capacity, clock
        self._tokens = float(capacity)
        self._last = clock()

    def _refill(self) -> None:
        now = self.clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
        self._last = now

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens

    def allow(self, n: int = 1) -> bool:
        self._refill()
        if n > self.capacity or self._tokens < n:
            return False
        self._tokens -= n
        return True

    def wait_time(self, n: int = 1) -> float:
        if n > self.capacity:
            return float("inf")
        self._refill()
        return max(0.0, (n - self._tokens) / self.rate)
