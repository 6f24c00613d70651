"""A tiny text-adventure engine."""
import copy

DIRECTIONS = {"north", "south", "east", "west", "up", "down"}


class Game:
    def __init__(self, world: dict):
        self.rooms = copy.deepcopy(world["rooms"])
        self.room = world["start"]
        self.inventory: list = []

    def look(self) -> str:
        r = self.rooms[self.room]
        exits = ", ".join(sorted(r.get("exits", {}))) or "none"
        lines = [r["description"], f"Exits: {exits}."]
        if r.get("items"):
            lines.append(f"You see: {', '.join(r['items'])}.")
        return "\n".join(lines)

    def run(self, command: str) -> str:
        words = command.lower().split()
        if not words:
            return "I don't understand."
        verb, rest = words[0], " ".join(words[1:])
        if verb in DIRECTIONS and not rest:
            verb, rest = "go", verb
        if verb == "look" and not rest:
            return self.look()
        if verb == "go" and rest:
            target = self.rooms[self.room].get("exits", {}).get(rest)
            if target is None:
                return "You can't go that way."
            self.room = target
            return self.look()
        if verb == "take" and rest:
            items = self.rooms[self.room].setdefault("items", [])
            if rest not in items:
                return f"There is no {rest} here."
            items.remove(rest)
            self.inventory.append(rest)
            return f"Taken: {rest}."
        if verb == "drop" and rest:
            if rest not in self.inventory:
                return f"You don't have {rest}."
            self.inventory.remove(rest)
            self.rooms[self.room].setdefault("items", []).append(rest)
            return f"Dropped: {rest}."
        if verb in ("inventory", "i") and not rest:
            return f"You carry: {', '.join(self.inventory)}." if self.inventory else "You carry nothing."
        return "I don't understand."
