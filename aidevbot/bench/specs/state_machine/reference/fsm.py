"""A small finite state machine."""


class InvalidTransition(ValueError):
    pass


class StateMachine:
    def __init__(self, initial: str, transitions: dict):
        self.state = initial
        self.history = [initial]
        self._t = dict(transitions)

    def can(self, event: str) -> bool:
        return (self.state, event) in self._t

    def fire(self, event: str) -> str:
        if not self.can(event):
            raise InvalidTransition(f"{event!r} is not allowed in state {self.state!r}")
        self.state = self._t[(self.state, event)]
        self.history.append(self.state)
        return self.state

    def events(self) -> list:
        return sorted(e for s, e in self._t if s == self.state)
