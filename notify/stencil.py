"""A notice rendered once per time zone, with stand-ins where each recipient's own values go.

Rendering the templates and inlining the CSS for every recipient cost about
a millisecond a message, for output that differs between recipients of one
zone only where their name, organisation and address appear. A stencil is
that output rendered once with random marker words in their place, so a
recipient's copy is the stencil with the markers replaced.

Replacing is only done where it provably gives what rendering would:

- the templates (and everything they extend, include or import) use the
  personal values only as a bare `{{ value }}` or a bare `{% if value %}`,
  outside macros, filter/autoescape blocks, assignments and loops, and never
  through `self` or a filtered `super()`; the subject uses none of them.
  Whether a value is blank is part of the stencil's key, so the `if`s take
  the same branch as they would for the real value.
- the value itself is printable text without `&<>"` (so autoescaping and
  the CSS inliner's re-serialisation leave it exactly as it is, apostrophes
  included: the inliner writes `&#39;` back as `'`) and without the notes
  token that `PreparedNotice.render` swaps after inlining.

Anything else (an override template that filters the name, a name with an
ampersand) goes through `PreparedNotice.render`, which stays the reference.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import jinja2
from jinja2 import nodes

from .compose import PreparedNotice, Recipient
from .message import single_line

PERSONAL = ("recipient_name", "organisation", "email")
_UNSAFE_SPOTS = (nodes.Macro, nodes.CallBlock, nodes.FilterBlock, nodes.AssignBlock, nodes.For,
                 nodes.With, nodes.ScopedEvalContextModifier)
_REFERENCES = (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)
_MARKUP_SPECIALS = re.compile(r'[&<>"]')


@dataclass(frozen=True)
class Marks:
    """The marker words of one prepared notice: lowercase letters and digits, so nothing escapes or
    wraps them, and 128 random bits each, so no template text or release note contains one."""

    name: str
    organisation: str
    email: str

    @classmethod
    def new(cls) -> Marks:
        return cls(*(f"qdmark{secrets.token_hex(16)}{n}" for n in range(3)))

    def pattern(self) -> re.Pattern[str]:
        return re.compile("|".join((self.name, self.organisation, self.email)))


@dataclass(frozen=True)
class Stencil:
    """One zone's subject, text and HTML with the personal values marked."""

    zone: str
    named: bool        # the recipient's name is not blank
    placed: bool       # the recipient's organisation is not blank
    subject: str
    text: str
    html: str


def stencil_for(prepared: PreparedNotice, marks: Marks, zone: str, *, named: bool,
                placed: bool) -> Stencil:
    """Render the marked copy for recipients of `zone` (raises as `render` would for a bad zone)."""
    content = prepared.render(Recipient(marks.name if named else "", marks.email,
                                        marks.organisation if placed else "", zone))
    return Stencil(zone, named, placed, content.subject, content.text, content.html)


def personal_values(recipient: Recipient) -> tuple[str, str, str]:
    """The values the templates receive (the same cleaning as PreparedNotice._values)."""
    return single_line(recipient.name), single_line(recipient.organisation), recipient.email


def fits(value: str, prepared: PreparedNotice) -> bool:
    """Whether `value` comes out of rendering exactly as it went in (see the module docstring)."""
    return value.isprintable() and not _MARKUP_SPECIALS.search(value) and prepared.token not in value


def substitutable(prepared: PreparedNotice) -> bool:
    """Whether the notice's templates use the personal values only in ways a stencil reproduces."""
    templates = prepared.templates
    env = templates["txt"].environment
    try:
        return (_plain(env, [templates["txt"].name, templates["html"].name], allow_personal=True)
                and _plain(env, [templates["subject.txt"].name], allow_personal=False))
    except jinja2.TemplateError:
        return False  # it rendered when prepared, so this is a race with an edited override: be safe


def _plain(env: jinja2.Environment, names: list[str | None], *, allow_personal: bool) -> bool:
    loader = env.loader
    if loader is None:
        return False
    seen: set[str] = set()
    queue = list(names)
    while queue:
        name = queue.pop()
        if name is None:
            return False
        if name in seen:
            continue
        seen.add(name)
        tree = env.parse(loader.get_source(env, name)[0], name)
        if not _uses_are_plain(tree, allow_personal):
            return False
        for ref in tree.find_all(_REFERENCES):
            target = ref.template
            if not (isinstance(target, nodes.Const) and isinstance(target.value, str)):
                return False  # a computed template name: cannot follow it
            queue.append(target.value)
    return True


_Path = tuple[nodes.Node, ...]


def _walk(node: nodes.Node, parents: _Path = ()) -> Iterator[tuple[nodes.Node, _Path]]:
    """Every node below `node`, with its ancestors (nearest last)."""
    for child in node.iter_child_nodes():
        yield child, (*parents, node)
        yield from _walk(child, (*parents, node))


def _uses_are_plain(tree: nodes.Template, allow_personal: bool) -> bool:
    for node, parents in _walk(tree):
        parent = parents[-1]
        if isinstance(node, (nodes.FilterBlock, nodes.ScopedEvalContextModifier, nodes.EvalContextModifier)):
            return False  # could transform output produced anywhere, blocks of other templates included
        if isinstance(node, nodes.Name) and node.name == "self":
            return False  # self.block() hands a block's output to an expression
        if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name) and node.node.name == "super" \
                and not isinstance(parent, nodes.Output):
            return False
        if not (isinstance(node, nodes.Name) and node.name in PERSONAL):
            continue
        if not allow_personal or node.ctx != "load":
            return False
        if any(isinstance(p, _UNSAFE_SPOTS) for p in parents):
            return False
        bare_output = isinstance(parent, nodes.Output)
        bare_test = isinstance(parent, nodes.If) and parent.test is node
        if not (bare_output or bare_test):
            return False
    return True
