"""Word frequencies of a text file."""
import argparse
import re
import sys
from collections import Counter

WORD = re.compile(r"[A-Za-z']+")


def top_words(text: str, n: int = 10) -> list[tuple[str, int]]:
    counts = Counter(w.lower() for w in WORD.findall(text))
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("file")
    p.add_argument("-n", type=int, default=10)
    a = p.parse_args(argv)
    try:
        text = open(a.file, encoding="utf-8").read()
    except OSError:
        print(f"error: cannot read {a.file}", file=sys.stderr)
        return 1
    for w, c in top_words(text, a.n):
        print(f"{w} {c}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
