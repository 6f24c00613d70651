"""Markdown report of word frequencies."""
from wordstats import top_words


def markdown_table(text: str, n: int = 5) -> str:
    "A Markdown table of the `n` most frequent words."
    rows = ["| rank | word | count |", "|---|---|---|"]
    rows += [f"| {rank} | {word} | {count} |" for rank, (word, count) in enumerate(top_words(text, n), 1)]
    return "\n".join(rows)
