import copy

from adventure import Game

WORLD = {"start": "hall",
         "rooms": {"hall": {"description": "A dusty hall.", "exits": {"north": "kitchen", "east": "study"}, "items": ["lamp", "key"]},
                   "kitchen": {"description": "A cold kitchen.", "exits": {"south": "hall"}, "items": []},
                   "study": {"description": "A quiet study.", "exits": {}, "items": []}}}


def test_look():
    g = Game(WORLD)
    assert g.run("look") == "A dusty hall.\nExits: east, north.\nYou see: lamp, key."


def test_go_and_short_direction():
    g = Game(WORLD)
    assert g.run("go north") == "A cold kitchen.\nExits: south."
    assert g.room == "kitchen"
    assert g.run("south").startswith("A dusty hall.")


def test_no_exit():
    g = Game(WORLD)
    assert g.run("go west") == "You can't go that way."
    assert g.room == "hall"
    g.run("east")
    assert g.run("look") == "A quiet study.\nExits: none."


def test_take_and_inventory():
    g = Game(WORLD)
    assert g.run("inventory") == "You carry nothing."
    assert g.run("take key") == "Taken: key."
    assert g.run("take lamp") == "Taken: lamp."
    assert g.run("i") == "You carry: key, lamp."
    assert g.inventory == ["key", "lamp"]
    assert g.run("look") == "A dusty hall.\nExits: east, north."
    assert g.run("take sword") == "There is no sword here."


def test_drop_in_another_room():
    g = Game(WORLD)
    g.run("take lamp")
    g.run("north")
    assert g.run("drop lamp") == "Dropped: lamp."
    assert g.run("look") == "A cold kitchen.\nExits: south.\nYou see: lamp."
    assert g.run("drop lamp") == "You don't have lamp."


def test_case_and_spaces():
    g = Game(WORLD)
    assert g.run("  TAKE   Lamp ") == "Taken: lamp."
    assert g.run("Go  North").startswith("A cold kitchen.")


def test_unknown_command():
    g = Game(WORLD)
    assert g.run("dance") == "I don't understand."
    assert g.run("") == "I don't understand."


def test_world_is_not_modified():
    before = copy.deepcopy(WORLD)
    g = Game(WORLD)
    g.run("take lamp")
    g.run("north")
    g.run("drop lamp")
    assert WORLD == before
