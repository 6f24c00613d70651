"""A Markdown subset to HTML."""
import html
import re

CODE = re.compile(r"`([^`]*)`")
BOLD = re.compile(r"\*\*(.+?)\*\*")
EM = re.compile(r"\*(.+?)\*")
HEADING = re.compile(r"^(#{1,3}) (.*)$")


def inline(text: str) -> str:
    parts = []
    last = 0
    for m in CODE.finditer(text):
        parts.append(_emph(html.escape(text[last:m.start()], quote=False)))
        parts.append(f"<code>{html.escape(m.group(1), quote=False)}</code>")
        last = m.end()
    parts.append(_emph(html.escape(text[last:], quote=False)))
    return "".join(parts)


def _emph(s: str) -> str:
    return EM.sub(r"<em>\1</em>", BOLD.sub(r"<strong>\1</strong>", s))


def to_html(text: str) -> str:
    out, para, items = [], [], []

    def flush():
        if para:
            out.append(f"<p>{inline(' '.join(para))}</p>")
            para.clear()
        if items:
            out.append("\n".join(["<ul>", *[f"<li>{inline(i)}</li>" for i in items], "</ul>"]))
            items.clear()

    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            flush()
            continue
        m = HEADING.match(line)
        if m:
            flush()
            n = len(m.group(1))
            out.append(f"<h{n}>{inline(m.group(2).strip())}</h{n}>")
        elif line.startswith("- "):
            if para:
                flush()
            items.append(line[2:].strip())
        else:
            if items:
                flush()
            para.append(line)
    flush()
    return "\n".join(out)
