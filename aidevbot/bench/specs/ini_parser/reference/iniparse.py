"""An INI parser with typed values."""
import re

INT = re.compile(r"^[+-]?\d+$")
FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+)$")


class ParseError(ValueError):
    def __init__(self, message: str, line: int):
        super().__init__(f"line {line}: {message}")
        self.line = line


def _quoted(v: str, n: int) -> str:
    out, i = [], 1
    while i < len(v):
        ch = v[i]
        if ch == "\\" and i + 1 < len(v):
            out.append({"n": "\n", '"': '"', "\\": "\\"}.get(v[i + 1], "\\" + v[i + 1]))
            i += 2
            continue
        if ch == '"':
            if v[i + 1:].strip():
                raise ParseError("text after the closing quote", n)
            return "".join(out)
        out.append(ch)
        i += 1
    raise ParseError("unterminated quote", n)


def value(v: str, n: int):
    if v.lower() in ("true", "false"):
        return v.lower() == "true"
    if INT.match(v):
        return int(v)
    if FLOAT.match(v):
        return float(v)
    if v.startswith('"'):
        return _quoted(v, n)
    return v


def parse(text: str) -> dict:
    out: dict = {}
    section = ""
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise ParseError("unclosed section header", n)
            section = line[1:-1].strip()
            out.setdefault(section, {})
            continue
        if "=" not in line:
            raise ParseError("expected key = value", n)
        key, v = (part.strip() for part in line.split("=", 1))
        if not key:
            raise ParseError("empty key", n)
        out.setdefault(section, {})[key] = value(v, n)
    return out
