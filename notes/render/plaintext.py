"""Plain text from Markdown that a person edited (pure).

Generated notes have a text template; edited or approved notes exist only as
Markdown. Their text form is made from the same sanitised HTML that the HTML
form is (render.markdown_to_html), so the text and HTML parts of a notice can
never say different things, and the Markdown's escapes never show.

The HTML is nh3's output over a short allow-list of tags (see render), so
this walker knows every element it can meet.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from .render import markdown_to_html

_SPACE_RE = re.compile(r"\s+")


def markdown_to_text(markdown: str) -> str:
    walker = _TextWalker()
    walker.feed(markdown_to_html(markdown))
    walker.close()
    return walker.text()


class _TextWalker(HTMLParser):
    """Headings underlined as the text template does, list items as `  * `, links as `text <url>`."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.line: list[str] = []
        self.lists: list[list[int]] = []  # per open list: [ordered, next number]
        self.marker: str | None = None  # the bullet the next list line starts with
        self.last_in_list = False
        self.quote = 0
        self.pre = False
        self.links: list[tuple[str | None, list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("p", "h1", "h2", "h3", "h4", "br"):
            self._flush()
        elif tag == "pre":
            self._flush()
            self.pre = True
        elif tag == "blockquote":
            self._flush()
            self.quote += 1
        elif tag in ("ul", "ol"):
            self._flush()
            self.lists.append([int(tag == "ol"), 1])
        elif tag == "li":
            self._flush()
            ordered, number = self.lists[-1] if self.lists else (0, 1)
            if ordered:
                self.lists[-1][1] += 1
            bullet = f"{number}." if ordered else ("*" if len(self.lists) <= 1 else "-")
            self.marker = f"{self._indent()}{bullet} "
        elif tag == "hr":
            self._flush()
            self._emit(["-" * 40])
        elif tag == "a":
            self.links.append((dict(attrs).get("href"), []))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h1", "h2", "h3", "h4"):
            title = "".join(self.line).strip()
            self.line = []
            if tag == "h1":
                self._emit([title, "=" * len(title)])
            elif tag == "h2":
                self._emit([title.upper(), "-" * len(title)])
            elif title:
                self._emit([title])
        elif tag in ("p", "li"):
            self._flush()
        elif tag == "pre":
            self._flush()
            self.pre = False
        elif tag == "blockquote":
            self._flush()
            self.quote = max(self.quote - 1, 0)
        elif tag in ("ul", "ol"):
            self._flush()
            if self.lists:
                self.lists.pop()
            if not self.lists:
                self.last_in_list = False  # the next list is a block of its own
        elif tag == "a" and self.links:
            href, parts = self.links.pop()
            text = "".join(parts)
            self._write(text)
            if href and href not in (text, "#", f"mailto:{text}"):
                self._write(f" <{href}>")

    def handle_data(self, data: str) -> None:
        if not self.pre:
            data = _SPACE_RE.sub(" ", data)  # HTML's own rule: any run of white space is one space
        if self.links:
            self.links[-1][1].append(data)
        else:
            self._write(data)

    def _indent(self) -> str:
        return "  " + "    " * max(len(self.lists) - 1, 0)

    def _write(self, text: str) -> None:
        if text:
            self.line.append(text)

    def _flush(self) -> None:
        text = "".join(self.line)
        self.line = []
        if not text.strip():
            return
        lines = text.strip("\n").split("\n") if self.pre else [text.strip()]
        if self.lists:
            first = self.marker or self._indent() + "  "
            rest = " " * len(first)
            lines = [(first if i == 0 else rest) + line for i, line in enumerate(lines)]
            self.marker = None
        self._emit(lines)

    def _emit(self, lines: list[str]) -> None:
        in_list = bool(self.lists)
        if self.out and not (in_list and self.last_in_list):
            self.out.append("")
        prefix = "> " * self.quote
        self.out.extend((prefix + line).rstrip() for line in lines)
        self.last_in_list = in_list

    def text(self) -> str:
        self._flush()
        return "\n".join(self.out).rstrip() + "\n" if self.out else ""
