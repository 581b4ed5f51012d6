"""Skills made of skills: a sequence, a retry, and a script.

- :class:`Sequence` runs skills one after another; a step given as a factory is built
  only when it is reached, so it can use the estimate of that moment.
- :class:`Retry` builds and runs a skill again after a failure, up to a number of tries.
- :class:`Script` runs a generator that yields skills and is sent their results back:
  task logic (loops, decisions on the estimate, counters) reads as a plain program,
  while every motion is still a skill the loop ticks.
- :class:`Do` runs a function once and ends at once (set a flag, apply a fix).

A child that finishes takes no time: the composite starts the next one within the same
tick. A composite canceled from outside cancels its running child.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterable

from ..types import SensedState
from .skill import ActionResult, ActionStatus, Running, Skill, Step

__all__ = ["Do", "Retry", "Script", "ScriptBody", "ScriptError", "Sequence"]

log = logging.getLogger(__name__)

MAX_STEPS_PER_TICK = 10_000
"""Children a composite may see finish within one tick before it calls itself stuck: a
script that yields skills which all end at once, for ever, never writes a command."""

ScriptBody = Generator[Skill, ActionResult, ActionResult | None]
"""A script: yields skills, is sent each one's result, returns its own result (None:
succeeded)."""


class ScriptError(RuntimeError):
    """A script that cannot make progress (see :data:`MAX_STEPS_PER_TICK`)."""


class Script(Skill):
    """Runs ``body``, a generator of skills (see :data:`ScriptBody`).

    With ``stop_on_failure`` (the default) the first child that does not succeed ends the
    script with its result; without it every result is sent back to the generator, which
    decides.
    """

    def __init__(
        self, body: ScriptBody, name: str | None = None, *, stop_on_failure: bool = True
    ) -> None:
        super().__init__(name)
        self._body = body
        self._stop_on_failure = stop_on_failure
        self._child: Skill | None = None
        self._last: ActionResult | None = None
        self.children_run = 0
        """Children that finished so far."""

    @property
    def child(self) -> Skill | None:
        """The skill running now, if any."""
        return self._child

    def _on_tick(self, sensed: SensedState, now_s: float) -> Step:
        for _ in range(MAX_STEPS_PER_TICK):
            if self._child is None:
                try:
                    self._child = (
                        next(self._body) if self._last is None else self._body.send(self._last)
                    )
                except StopIteration as stop:
                    result = stop.value
                    return result if result is not None else ActionResult(ActionStatus.SUCCEEDED)
            step = self._child.tick(sensed, now_s)
            if isinstance(step, Running):
                return step
            self.children_run += 1
            self._child = None
            self._last = step
            if self._stop_on_failure and not step.succeeded:
                self._body.close()
                return step
        raise ScriptError(
            f"{self.name}: {MAX_STEPS_PER_TICK} skills ended within one tick without a command"
        )

    def _on_cancel(self, reason: str) -> str:
        if self._child is not None:
            self._child.cancel(reason)
        self._body.close()
        return reason


def _sequence_body(
    steps: Iterable[Skill | Callable[[], Skill]],
) -> ScriptBody:
    for step in steps:
        yield step if isinstance(step, Skill) else step()
    return None


class Sequence(Script):
    """Runs ``steps`` in order (each a skill, or a factory called when it is reached);
    with ``stop_on_failure`` the first that does not succeed ends the sequence."""

    def __init__(
        self,
        steps: Iterable[Skill | Callable[[], Skill]],
        name: str | None = None,
        *,
        stop_on_failure: bool = True,
    ) -> None:
        super().__init__(_sequence_body(steps), name, stop_on_failure=stop_on_failure)


class Retry(Skill):
    """Builds a skill with ``make(attempt)`` (attempt 0, 1, ...) and runs it; when it ends
    with a status in ``retry_on``, builds and runs it again, up to ``attempts`` times in all.
    The last attempt's result is the retry's."""

    def __init__(
        self,
        make: Callable[[int], Skill],
        attempts: int,
        name: str | None = None,
        *,
        retry_on: frozenset[ActionStatus] = frozenset({ActionStatus.EXECUTION_FAILED}),
    ) -> None:
        if attempts < 1:
            raise ValueError(f"Retry needs at least one attempt, got {attempts}")
        super().__init__(name)
        self._make = make
        self.attempts = attempts
        self._retry_on = retry_on
        self.attempt = 0
        """Index of the attempt running now (0-based)."""
        self._child: Skill | None = None

    def _on_tick(self, sensed: SensedState, now_s: float) -> Step:
        for _ in range(self.attempts):
            if self._child is None:
                self._child = self._make(self.attempt)
            step = self._child.tick(sensed, now_s)
            if isinstance(step, Running):
                return step
            if step.status not in self._retry_on or self.attempt + 1 >= self.attempts:
                return step
            log.info(
                "%s: attempt %d of %d ended %s (%s); trying again",
                self.name,
                self.attempt + 1,
                self.attempts,
                step.status.value,
                step.reason,
            )
            self.attempt += 1
            self._child = None
        raise AssertionError("unreachable: the last attempt returns")

    def _on_cancel(self, reason: str) -> str:
        if self._child is not None:
            self._child.cancel(reason)
        return reason


class Do(Skill):
    """Calls ``action()`` on its first tick and ends at once: succeeded, or with the
    result ``action`` returns."""

    def __init__(self, action: Callable[[], ActionResult | None], name: str | None = None) -> None:
        super().__init__(name or getattr(action, "__name__", None))
        self._action = action

    def _on_tick(self, sensed: SensedState, now_s: float) -> Step:
        result = self._action()
        return result if result is not None else ActionResult(ActionStatus.SUCCEEDED)
