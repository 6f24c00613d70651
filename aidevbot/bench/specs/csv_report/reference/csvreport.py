"""Group totals of a CSV file."""
import argparse
import csv
import io


def report(csv_text: str, group: str, value: str) -> list[tuple[str, float]]:
    reader = csv.DictReader(io.StringIO(csv_text))
    fields = reader.fieldnames or []
    for col in (group, value):
        if col not in fields:
            raise KeyError(col)
    totals: dict[str, float] = {}
    for row in reader:
        v = (row.get(value) or "").strip()
        if not v:
            continue
        totals[row[group]] = totals.get(row[group], 0.0) + float(v)
    return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("file")
    p.add_argument("--group", required=True)
    p.add_argument("--value", required=True)
    a = p.parse_args(argv)
    rows = report(open(a.file, encoding="utf-8", newline="").read(), a.group, a.value)
    for g, t in rows:
        print(f"{g}: {t:.2f}")
    print(f"TOTAL: {sum(t for _, t in rows):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
