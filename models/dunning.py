"""The retry schedule for declined charges (seed claim 5): delays between attempts and the attempt
threshold."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_DELAYS_SECONDS = (86_400, 3 * 86_400, 5 * 86_400)


class DunningPolicy(BaseModel):
    model_config = ConfigDict(frozen=True)

    delays_seconds: tuple[int, ...] = Field(default=DEFAULT_DELAYS_SECONDS, min_length=1, max_length=20)
    max_attempts: int = Field(default=4, ge=1, le=50)

    @model_validator(mode="after")
    def _positive_delays(self) -> DunningPolicy:
        if any(d <= 0 for d in self.delays_seconds):
            raise ValueError("dunning delays must be positive")
        return self

    def delay_after(self, attempt: int) -> timedelta | None:
        """The wait after failed attempt `attempt` (1-based); None once the threshold is met."""
        if attempt >= self.max_attempts:
            return None
        index = min(attempt - 1, len(self.delays_seconds) - 1)
        return timedelta(seconds=self.delays_seconds[index])
