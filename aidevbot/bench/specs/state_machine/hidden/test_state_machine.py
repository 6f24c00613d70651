import pytest

from fsm import InvalidTransition, StateMachine

T = {("idle", "start"): "running", ("running", "pause"): "paused", ("paused", "start"): "running",
     ("running", "stop"): "idle", ("paused", "stop"): "idle"}


def test_initial_state_and_history():
    m = StateMachine("idle", T)
    assert m.state == "idle" and m.history == ["idle"]


def test_fire_moves_and_returns_state():
    m = StateMachine("idle", T)
    assert m.fire("start") == "running"
    assert m.fire("pause") == "paused"
    assert m.history == ["idle", "running", "paused"]


def test_invalid_event_raises_and_keeps_state():
    m = StateMachine("idle", T)
    with pytest.raises(InvalidTransition):
        m.fire("pause")
    assert m.state == "idle" and m.history == ["idle"]


def test_invalid_transition_is_a_value_error():
    assert issubclass(InvalidTransition, ValueError)


def test_can_and_events():
    m = StateMachine("running", T)
    assert m.can("pause") and not m.can("start")
    assert m.events() == ["pause", "stop"]


def test_self_loop():
    m = StateMachine("a", {("a", "tick"): "a"})
    m.fire("tick")
    m.fire("tick")
    assert m.history == ["a", "a", "a"]
