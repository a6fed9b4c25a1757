"""A notice rendered once per time zone, with stand-ins where each recipient's own values go.

Rendering the templates and inlining the CSS is most of the work of writing
a notice, and its output differs between recipients of one zone only where
their PERSONAL values appear: name, organisation, address and, in a
beta-available notice, their own beta page link. A stencil is that output
rendered once (by `PreparedNotice.render_personal`, with random marker words
in their place), so a recipient's copy is the stencil with the markers
replaced; `Contents` chooses between the two for each recipient.

Replacing is only done where it provably gives what rendering would:

- the templates (and everything they extend, include or import) use the
  personal values only as a bare `{{ value }}` or a bare `{% if value %}`,
  outside macros, filter/autoescape blocks, assignments and loops, and never
  through `self` or a filtered `super()`; the subject uses none of them.
  Whether each value is blank is part of the stencil's key, so the `if`s
  take the same branch as they would for the real value.
- the value itself is printable text without `&<>"` (so autoescaping and
  the CSS inliner's re-serialisation leave it exactly as it is, apostrophes
  included: the inliner writes `&#39;` back as `'`) and without the notes
  token that `PreparedNotice.render` swaps after inlining.

Anything else (an override template that filters the name, a name with an
ampersand, a zone that does not exist) goes through `PreparedNotice.render`,
which stays the reference and is what reports a recipient it cannot render.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import jinja2
from jinja2 import nodes

from notify.content.compose import PERSONAL, Composed, PreparedNotice, Recipient
from notify.errors import NotifyError
from notify.mail.calendar_part import Invitation

_UNSAFE_SPOTS = (nodes.Macro, nodes.CallBlock, nodes.FilterBlock, nodes.AssignBlock, nodes.For,
                 nodes.With, nodes.ScopedEvalContextModifier)
_REFERENCES = (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)
_MARKUP_SPECIALS = re.compile(r'[&<>"]')


@dataclass(frozen=True)
class Marks:
    """The marker words of one prepared notice: lowercase letters and digits, so nothing escapes or
    wraps them, and 128 random bits each, so no template text or release note contains one."""

    words: tuple[str, ...]   # one per PERSONAL value, in its order

    @classmethod
    def new(cls) -> Marks:
        return cls(tuple(f"qdmark{secrets.token_hex(16)}{n}" for n in range(len(PERSONAL))))

    def pattern(self) -> re.Pattern[str]:
        return re.compile("|".join(self.words))

    def standing_for(self, values: dict[str, str]) -> dict[str, str]:
        """Each mark and the recipient's value it stands for."""
        return {word: values[name] for name, word in zip(PERSONAL, self.words, strict=True)}


@dataclass(frozen=True)
class Stencil:
    """One zone's subject, text and HTML with the personal values marked."""

    zone: str
    present: tuple[bool, ...]   # which PERSONAL values are not blank, in its order
    subject: str
    text: str
    html: str
    invitation: Invitation | None = None   # the calendar entry: the same for every recipient

    @property
    def content(self) -> Composed:
        """The content with the marks in it."""
        return Composed(self.subject, self.text, self.html, self.invitation)

    def fill(self, marks: re.Pattern[str], values: dict[str, str]) -> Composed:
        """The content for the recipient whose values stand for the `marks` (the subject has none)."""
        return Composed(self.subject, filled(self.text, marks, values), filled(self.html, marks, values),
                        self.invitation)


def filled(text: str, marks: re.Pattern[str], values: dict[str, str]) -> str:
    """`text` with each mark replaced by the recipient's value it stands for."""
    return marks.sub(lambda found: values[found.group()], text)


def stencil_for(prepared: PreparedNotice, marks: Marks, zone: str, present: tuple[bool, ...]) -> Stencil:
    """Render the marked copy for recipients of `zone` whose values are `present` (raises as
    `render` would for a bad zone)."""
    values = {name: word if shown else "" for name, word, shown in zip(PERSONAL, marks.words, present,
                                                                      strict=True)}
    content = prepared.render_personal(zone, values, values["email"])
    return Stencil(zone, present, content.subject, content.text, content.html, content.invitation)


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


class Contents:
    """Each recipient's subject, text and HTML for one prepared notice: from the stencil of their zone
    where that provably gives what rendering would, else rendered in full."""

    def __init__(self, prepared: PreparedNotice) -> None:
        self.prepared = prepared
        self.enabled = substitutable(prepared)
        self.marks = Marks.new()
        self._pattern = self.marks.pattern()
        self._stencils: dict[tuple[str, tuple[bool, ...]], Stencil | None] = {}

    def render(self, recipient: Recipient) -> Composed:
        """The recipient's content as a whole (notify.mail.wire fills in the serialised stencil instead)."""
        marked = self.stencil(recipient)
        if marked is None:
            return self.prepared.render(recipient)
        stencil, values = marked
        return stencil.fill(self._pattern, values)

    def stencil(self, recipient: Recipient) -> tuple[Stencil, dict[str, str]] | None:
        """The recipient's zone stencil and the values its marks stand for; None where their content
        must be rendered in full."""
        values = self.prepared.personal(recipient)
        if not (self.enabled and values["email"] and all(fits(v, self.prepared) for v in values.values())):
            return None
        stencil = self._stencil(recipient.time_zone, tuple(bool(values[name]) for name in PERSONAL))
        if stencil is None:
            return None
        return stencil, self.marks.standing_for(values)

    @property
    def pattern(self) -> re.Pattern[str]:
        """Finds the marks in a stencil."""
        return self._pattern

    def _stencil(self, zone: str, present: tuple[bool, ...]) -> Stencil | None:
        """The zone's stencil, or None for a zone that cannot be rendered: rendering each such
        recipient in full then reports it in its own words."""
        key = (zone, present)
        if key not in self._stencils:
            try:
                self._stencils[key] = stencil_for(self.prepared, self.marks, zone, present)
            except NotifyError:
                self._stencils[key] = None
        return self._stencils[key]


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
            target = getattr(ref, "template", None)  # every kind in _REFERENCES names one
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
