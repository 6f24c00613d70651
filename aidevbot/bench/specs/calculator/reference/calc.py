"""A recursive-descent evaluator for + - * / and parentheses."""
import re

TOKEN = re.compile(r"\s*(?:(\d+\.\d*|\.\d+|\d+)|(.))")


def _tokens(expr: str) -> list:
    out, pos = [], 0
    expr = expr.rstrip()
    while pos < len(expr):
        m = TOKEN.match(expr, pos)
        num, op = m.group(1), m.group(2)
        if num is not None:
            out.append(float(num) if "." in num else int(num))
        elif op in "+-*/()":
            out.append(op)
        else:
            raise ValueError(f"unexpected character {op!r}")
        pos = m.end()
    return out


class _Parser:
    def __init__(self, toks):
        self.t, self.i = toks, 0

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self):
        tok = self.peek()
        if tok is None:
            raise ValueError("unexpected end of expression")
        self.i += 1
        return tok

    def expr(self):
        v = self.term()
        while self.peek() in ("+", "-"):
            v = v + self.term() if self.take() == "+" else v - self.term()
        return v

    def term(self):
        v = self.unary()
        while self.peek() in ("*", "/"):
            if self.take() == "*":
                v = v * self.unary()
            else:
                d = self.unary()
                if d == 0:
                    raise ZeroDivisionError("division by zero")
                v = v / d
        return v

    def unary(self):
        if self.peek() in ("+", "-"):
            return self.unary() if self.take() == "+" else -self.unary()
        return self.atom()

    def atom(self):
        tok = self.take()
        if tok == "(":
            v = self.expr()
            if self.take() != ")":
                raise ValueError("expected )")
            return v
        if isinstance(tok, (int, float)) and not isinstance(tok, bool):
            return tok
        raise ValueError(f"unexpected {tok!r}")


def evaluate(expr: str):
    p = _Parser(_tokens(expr))
    v = p.expr()
    if p.peek() is not None:
        raise ValueError(f"unexpected {p.peek()!r}")
    return v
