"""Word statistics for plain text."""
import re
from collections import Counter

WORD = re.compile(r"[A-Za-z']+")


def words(text: str) -> list[str]:
    "Lower-cased words in `text`."
    return [w.lower() for w in WORD.findall(text)]


def count_words(text: str) -> int:
    "Number of words in `text`."
    return len(words(text))


def top_words(text: str, n: int = 3) -> list[tuple[str, int]]:
    "The `n` most frequent words, ties broken alphabetically."
    counts = Counter(words(text))
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
