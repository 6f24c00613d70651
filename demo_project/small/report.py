"""Markdown report of word frequencies."""
from wordstats import top_words


def markdown_table(text: str, n: int = 5) -> str:
    "A Markdown table of the `n` most frequent words."
    rows = ["| word | count |", "|---|---|"]
    rows += [f"| {word} | {count} |" for word, count in top_words(text, n)]
    return "\n".join(rows)
