"""Command line: word statistics for a text file or stdin."""
import argparse
import sys

from wordstats import count_words, top_words


def summarize(text: str, n: int = 3) -> str:
    "A short report: the word count, then the top words."
    lines = [f"words: {count_words(text)}"]
    lines += [f"{word}: {count}" for word, count in top_words(text, n)]
    return "\n".join(lines)


def main(argv=None) -> int:
    "Entry point: `python cli.py FILE -n 3`."
    parser = argparse.ArgumentParser(description="Word statistics")
    parser.add_argument("path", nargs="?", help="text file (default: stdin)")
    parser.add_argument("-n", type=int, default=3, help="how many top words to show")
    args = parser.parse_args(argv)
    text = open(args.path, encoding="utf-8").read() if args.path else sys.stdin.read()
    print(summarize(text, args.n))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
