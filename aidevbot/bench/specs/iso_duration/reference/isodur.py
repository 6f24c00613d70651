"""ISO-8601 durations (W, D, H, M, S)."""
import re
from datetime import datetime, timedelta

PATTERN = re.compile(r"^(-)?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def parse_duration(s: str) -> timedelta:
    m = PATTERN.match(s.strip())
    if not m or s.strip().endswith(("P", "T")):
        raise ValueError(f"not a supported ISO-8601 duration: {s!r}")
    neg, w, d, h, mi, sec = m.groups()
    if not any((w, d, h, mi, sec)):
        raise ValueError(f"empty duration: {s!r}")
    td = timedelta(weeks=int(w or 0), days=int(d or 0), hours=int(h or 0), minutes=int(mi or 0), seconds=float(sec or 0))
    return -td if neg else td


def format_duration(td: timedelta) -> str:
    sign = "-" if td < timedelta(0) else ""
    td = abs(td)
    days = td.days
    rest = td.seconds + td.microseconds / 1e6
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    out = f"P{days}D" if days else "P"
    t = ""
    if h:
        t += f"{int(h)}H"
    if m:
        t += f"{int(m)}M"
    if s:
        t += (f"{s:.6f}".rstrip("0").rstrip(".") if s != int(s) else f"{int(s)}") + "S"
    if t:
        out += "T" + t
    if out == "P":
        out = "PT0S"
    return sign + out


def add_duration(when: str, duration: str) -> str:
    return (datetime.fromisoformat(when) + parse_duration(duration)).isoformat()
