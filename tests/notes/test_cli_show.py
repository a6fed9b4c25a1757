"""`quarterdeck notes show`: every format and audience, stdout only, hostile commits, bad input."""

from __future__ import annotations

import json
from html.parser import HTMLParser

from notes.render.render import ALLOWED_ATTRIBUTES, ALLOWED_TAGS
from tests.conftest import Project

from .test_cli_support import History, audit, build, history

__all__ = ["history"]  # the fixture, imported for pytest

# Customers read customer words: no commit ids, no scopes ([notes.areas] names none here), no
# tracker ids without a public link.
PRODUCTION_MD = """\
# Release notes — app 2026.4.0

## New features

- CSV export of visits

## Fixes

- Keep night shifts
- &lt;script>alert(1)&lt;/script> &lt;img src=x onerror=alert(2)> \\[click\\](javascript:alert(3)) \
{{{{ 7\\*7 }}}}
"""

# The internal audience keeps the developer detail.
INTERNAL_MD = """\
# Internal release notes — app 2026.4.0

## New features

- **export:** CSV export of visits (`{merge}`, HOS-31)

## Fixes

- **rota:** Keep night shifts (`{rota}`, HOS-12)
- **ui:** &lt;script>alert(1)&lt;/script> &lt;img src=x onerror=alert(2)> \\[click\\](javascript:alert(3)) \
{{{{ 7\\*7 }}}} (`{hostile}`)

## Internal changes

- Bump dependencies (`{chore}`)
"""


def expected_md(h: History) -> str:
    return PRODUCTION_MD.format()


def expected_internal_md(h: History) -> str:
    return INTERNAL_MD.format(merge=h.merge[:7], rota=h.rota_fix[:7], hostile=h.hostile[:7],
                              chore=h.chore[:7])


def test_markdown_is_the_whole_stdout(project: Project, history: History) -> None:
    build_id = build(project)
    result = project.ok("notes", "show", build_id)
    assert result.out == expected_md(history)
    assert result.err == ""
    # The same notes for `latest`; the revert cancelled "remember me", the chore is internal.
    assert project.ok("notes", "show", "latest", "--format", "md").out == expected_md(history)


def test_text_format(project: Project, history: History) -> None:
    build_id = build(project)
    out = project.ok("notes", "show", build_id, "--format", "text").out
    assert out.splitlines() == [
        "Release notes - app 2026.4.0",
        "============================",
        "",
        "NEW FEATURES",
        "------------",
        "  * CSV export of visits",
        "",
        "FIXES",
        "-----",
        "  * Keep night shifts",
        "  * <script>alert(1)</script> <img src=x onerror=alert(2)> [click](javascript:alert(3)) "
        "{{ 7*7 }}",
    ]
    internal = project.ok("notes", "show", build_id, "--format", "text", "--audience", "internal").out
    assert f"  * export: CSV export of visits ({history.merge[:7]}, HOS-31)" in internal.splitlines()


def test_json_is_the_template_context(project: Project, history: History) -> None:
    build_id = build(project)
    result = project.ok("notes", "show", build_id, "--format", "json")
    data = json.loads(result.out)
    assert data["audience"] == "production" and data["version"] == "2026.4.0" and data["project"] == "app"
    assert data["since"] == "v2026.3.0" and data["until"] == history.head[:7]
    entries = [(s["key"], e["text"]) for s in data["sections"] for e in s["entries"]]
    assert entries == [("features", "CSV export of visits"), ("fixes", "Keep night shifts"),
                       ("fixes", "<script>alert(1)</script> <img src=x onerror=alert(2)> "
                                 "[click](javascript:alert(3)) {{ 7*7 }}")]
    export = data["sections"][0]["entries"][0]
    assert export["pull_request"] == "#1" and history.export_fix in export["shas"]


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.append((tag, [name for name, _ in attrs]))


def test_html_of_a_hostile_commit_has_no_markup(project: Project, history: History) -> None:
    build_id = build(project)
    html = project.ok("notes", "show", build_id, "--format", "html").out
    parser = _Elements()
    parser.feed(html)
    for tag, attrs in parser.seen:
        assert tag in ALLOWED_TAGS, tag
        assert set(attrs) <= ALLOWED_ATTRIBUTES.get(tag, set()), (tag, attrs)
    assert "<script" not in html and "<img" not in html and "javascript:" not in html.split("[click]")[0]
    assert "href" not in html  # no ticket URL configured, and the hostile link stays text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "{{ 7*7 }}" in html and "49" not in html
    assert "<h2>Fixes</h2>" in html and "<li>CSV export of visits</li>" in html


def test_audiences(project: Project, history: History) -> None:
    build_id = build(project)
    beta = project.ok("notes", "show", build_id, "--audience", "beta")
    assert beta.out == expected_md(history).replace("# Release notes", "# Beta release notes")
    assert "nothing runs on staging: beta notes cover the production range" in beta.err
    internal = project.ok("notes", "show", build_id, "--audience", "internal").out
    assert internal == expected_internal_md(history)


def test_customer_notes_name_areas_and_link_only_public_tickets(project: Project, history: History) -> None:
    """Issue 16: scopes through [notes.areas], ticket links only through a public pattern."""
    config = project.config.read_text(encoding="utf-8")
    project.config.write_text(config.replace(
        'ticket_url = ""', 'ticket_url = "https://status.example.org/t/{ticket}"').replace(
        "\n[notes.areas]", '\n[notes.areas]\nexport = "Reports"\nui = ""\n'), encoding="utf-8")
    build_id = build(project)
    private = project.ok("notes", "show", build_id).out
    assert "- **Reports:** CSV export of visits\n" in private  # mapped; rota unmapped: hidden
    assert "- Keep night shifts\n" in private and "status.example.org" not in private
    internal = project.ok("notes", "show", build_id, "--audience", "internal").out
    assert "[HOS-12](https://status.example.org/t/HOS-12)" in internal and "**rota:**" in internal
    project.config.write_text(project.config.read_text(encoding="utf-8").replace(
        "ticket_url_public = false", "ticket_url_public = true").replace(
        'unmapped_scopes = "hide"', 'unmapped_scopes = "show"'), encoding="utf-8")
    public = project.ok("notes", "show", build_id).out
    assert "- **Reports:** CSV export of visits ([HOS-31](https://status.example.org/t/HOS-31))\n" in public
    assert "- **rota:** Keep night shifts ([HOS-12](https://status.example.org/t/HOS-12))\n" in public
    assert "- &lt;script>" in public  # an empty area name hides the scope even when unmapped ones show
    assert history.rota_fix[:7] not in public


def test_since_overrides_the_range(project: Project, history: History) -> None:
    build_id = build(project)
    out = project.ok("notes", "show", build_id, "--since", history.merge).out
    assert "Keep night shifts" not in out and "CSV export" not in out
    assert "&lt;script>" in out


def test_since_off_the_builds_history_uses_the_merge_base(project: Project, history: History) -> None:
    repo = project.repo
    repo.git("checkout", "-q", "-b", "hotfix", history.rota_fix)
    side = repo.commit("fix(print): margins")
    repo.git("checkout", "-q", "main")
    build_id = build(project)
    result = project.ok("notes", "show", build_id, "--since", side[:10])
    assert (f"--since {side[:10]} {side[:12]}, which is not an ancestor of the build's commit "
            f"{history.head[:12]}: notes start at their merge-base {history.rota_fix[:12]}") in result.err
    assert "Keep night shifts" not in result.out and "CSV export of visits" in result.out
    assert "margins" not in result.out


def test_bad_input_exits_1_and_changes_nothing(project: Project, history: History) -> None:
    build_id = build(project)
    before = project.ok("log", "--json").json()
    unknown = project.run("notes", "show", "2026.9.9+b9")
    assert unknown.code == 1 and unknown.out == ""
    assert "no build '2026.9.9+b9'" in unknown.err
    since = project.run("notes", "show", build_id, "--since", "no-such-tag")
    assert since.code == 1 and since.out == ""
    assert "--since 'no-such-tag' is not a commit in" in since.err
    usage = project.run("notes", "show", build_id, "--format", "pdf")
    assert usage.code == 2 and "invalid choice: 'pdf'" in usage.err
    assert project.ok("log", "--json").json() == before
    assert audit(project) == []


def test_show_and_status_list_the_commits_to_reword_before_approval(project: Project,
                                                                    history: History) -> None:
    """Issue 16: headers the spec rules out are listed, on stderr, so they can be reworded."""
    import re

    stuff = project.repo.commit("Update some stuff")
    empty = project.repo.commit("fix(): keep the rota\nstraight after the header")
    build_id = build(project)
    shown = project.ok("notes", "show", build_id)
    assert "Update some stuff" not in shown.out and "- Keep the rota\n" in shown.out
    err = re.sub(r"\s+", " ", shown.err)
    assert "2 commit(s) break Conventional Commits; reword them before approval" in err
    assert f"{stuff[:12]} 'Update some stuff': not a Conventional Commits header (type: description)" in err
    assert f"{empty[:12]} 'Keep the rota': empty scope: write the scope or leave out the parentheses" in err
    status = project.ok("notes", "status", build_id, "--json").json()
    assert [(f["sha"], f["reason"]) for f in status["flagged"]] == [  # type: ignore[index]
        (stuff, "not a Conventional Commits header (type: description)"),
        (empty, "empty scope: write the scope or leave out the parentheses")]
    status_err = project.ok("notes", "status", build_id).err
    assert f"{stuff[:12]} 'Update some stuff'" in re.sub(r"\s+", " ", status_err)
    project.ok("notes", "reword", stuff, "--text", "fix(rota): tidy the rota page")
    project.ok("notes", "reword", empty, "--text", "fix(rota): keep the rota")
    again = project.ok("notes", "show", build_id)
    assert "break Conventional Commits" not in again.err and "- Tidy the rota page\n" in again.out
