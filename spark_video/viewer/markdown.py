"""The viewer's markdown: a deliberately small subset, safe by construction."""

from __future__ import annotations

import re

from markupsafe import Markup, escape

_MD_INLINE = [
    (re.compile(r"`([^`\n]+)`"), r"<code>\1</code>"),
    (re.compile(r"\*\*(.+?)\*\*"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![\w*])\*(?!\s)([^*\n]+?)\*(?![\w*])"), r"<em>\1</em>"),
]


def _md_inline(escaped: str) -> str:
    for pat, repl in _MD_INLINE:
        escaped = pat.sub(repl, escaped)
    return escaped


def simple_markdown(text: str | None) -> Markup:
    """A deliberately small markdown subset, safe by construction.

    Every line is HTML-escaped first; only then are headings, lists, bold, italics, code and
    block quotes turned into tags. Links and raw HTML are not supported (shown as text).
    """
    out: list[str] = []
    para: list[str] = []
    list_tag: str | None = None

    def flush_para() -> None:
        if para:
            out.append("<p>" + "<br>".join(para) + "</p>")
            para.clear()

    def close_list() -> None:
        nonlocal list_tag
        if list_tag:
            out.append(f"</{list_tag}>")
            list_tag = None

    in_code = False
    code: list[str] = []
    for raw in (text or "").splitlines():
        if raw.strip().startswith("```"):
            if in_code:
                out.append("<pre>" + "\n".join(code) + "</pre>")
                code.clear()
                in_code = False
            else:
                flush_para()
                close_list()
                in_code = True
            continue
        line = str(escape(raw))
        if in_code:
            code.append(line)
            continue
        stripped = line.strip()
        if not stripped:
            flush_para()
            close_list()
            continue
        m = re.match(r"^(#{1,6})\s+(.*)$", stripped)
        if m:
            flush_para()
            close_list()
            level = min(len(m.group(1)) + 2, 6)  # the page owns h1/h2
            out.append(f"<h{level}>{_md_inline(m.group(2))}</h{level}>")
            continue
        m = re.match(r"^([-*+]|\d+[.)])\s+(.*)$", stripped)
        if m:
            flush_para()
            tag = "ol" if m.group(1)[0].isdigit() else "ul"
            if list_tag != tag:
                close_list()
                out.append(f"<{tag}>")
                list_tag = tag
            out.append(f"<li>{_md_inline(m.group(2))}</li>")
            continue
        if stripped.startswith("&gt;"):
            flush_para()
            close_list()
            out.append(f"<blockquote>{_md_inline(stripped[4:].strip())}</blockquote>")
            continue
        if re.match(r"^(-{3,}|\*{3,}|_{3,})$", stripped):
            flush_para()
            close_list()
            out.append("<hr>")
            continue
        close_list()
        para.append(_md_inline(stripped))
    if in_code:
        out.append("<pre>" + "\n".join(code) + "</pre>")
    flush_para()
    close_list()
    return Markup("\n".join(out))
