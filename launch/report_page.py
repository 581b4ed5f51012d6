"""The pieces of a report page: escaping, tables, figures, links, and the page itself.

Every text that reaches the page goes through :func:`esc` (or :func:`cell`), every link
is relative to the page's own folder and URL-quoted (:func:`href`), so a report folder
can be moved or zipped and nothing in a scenario name or a failure reason can change
the page. The page is static HTML and CSS with no outside resources; a few lines of
inline script only note pictures or a video that fail to load, show it on the page, and
record it in attributes of ``<html>`` (``data-report-checked``, ``data-broken-images``,
``data-report-errors``, ``data-videos-ready``) where a test reads them.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

__all__ = [
    "cell",
    "esc",
    "figure",
    "fmt",
    "href",
    "human_size",
    "key_value_table",
    "link",
    "page",
    "section",
    "table",
]

CSS: Final = """
:root { --ok: #1b7a3a; --bad: #b3261e; --muted: #5f6368; --line: #d9dce1; --bg: #f7f8fa; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
  color: #1d1f23; background: #fff; }
header { background: #111418; color: #f1f3f4; padding: 1.2rem 2rem; }
header h1 { margin: 0 0 .3rem; font-size: 1.5rem; }
header p { margin: .2rem 0; color: #c4c7cc; }
main { padding: 1rem 2rem 3rem; max-width: 1280px; }
h2 { font-size: 1.2rem; border-bottom: 1px solid var(--line); padding-bottom: .2rem;
  margin-top: 2rem; }
h3 { font-size: 1rem; margin: 1.2rem 0 .4rem; }
table { border-collapse: collapse; margin: .4rem 0 1rem; font-size: .92rem; }
th, td { border: 1px solid var(--line); padding: .25rem .55rem; text-align: left;
  vertical-align: top; }
th { background: var(--bg); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td:first-child { white-space: nowrap; }
.scroll { overflow-x: auto; max-width: 100%; }
.badge { display: inline-block; padding: .1rem .6rem; border-radius: 1rem; font-weight: 600; }
.ok { color: var(--ok); } .bad { color: var(--bad); }
.badge.ok { background: #d7f0de; } .badge.bad { background: #f9dedc; }
.note { color: var(--muted); }
.big { font-size: 1.6rem; font-weight: 600; }
figure { margin: 1rem 0 1.6rem; }
figure img, video { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: .9rem; margin-top: .3rem; }
#load-problems { background: #f9dedc; color: var(--bad); padding: .5rem 1rem; }
details summary { cursor: pointer; color: var(--muted); }
code { font-size: .88rem; }
"""

CHECK_SCRIPT: Final = """
(function () {
  var root = document.documentElement, errors = [];
  function note(text) {
    errors.push(text);
    root.setAttribute("data-report-errors", errors.join(" | "));
    var box = document.getElementById("load-problems");
    if (box) {
      box.hidden = false;
      box.textContent = "Problems on this page: " + errors.join("; ");
    }
  }
  window.addEventListener("error", function (e) {
    var t = e.target;
    if (t && t !== window && t.tagName) {
      note("could not load " + t.tagName.toLowerCase() + " " + (t.getAttribute("src") || ""));
    } else {
      note("script error: " + (e.message || "unknown"));
    }
  }, true);
  var ready = [];
  window.addEventListener("loadedmetadata", function (e) {
    var v = e.target;
    ready.push((v.currentSrc || "").split("/").pop() + " " + v.videoWidth + "x" + v.videoHeight);
    root.setAttribute("data-videos-ready", ready.join(" | "));
  }, true);
  window.addEventListener("load", function () {
    var broken = [], images = document.images;
    for (var i = 0; i < images.length; i++) {
      if (!images[i].complete || images[i].naturalWidth === 0) {
        broken.push(images[i].getAttribute("src"));
      }
    }
    if (broken.length) { note(broken.length + " picture(s) did not load"); }
    root.setAttribute("data-images", String(images.length));
    root.setAttribute("data-broken-images", broken.join(" "));
    root.setAttribute("data-report-checked", "yes");
  });
})();
"""


def esc(text: object) -> str:
    """``text`` as HTML text (quotes too, so it is safe in attributes)."""
    return html.escape(str(text), quote=True)


def href(relative: str | Path) -> str:
    """A relative link to a file of the report's folder, URL-quoted and escaped."""
    return esc(quote(Path(relative).as_posix()))


def link(relative: str | Path, text: str | None = None) -> str:
    return f'<a href="{href(relative)}">{esc(text if text is not None else relative)}</a>'


def fmt(value: Any) -> str:
    """A value as short text: numbers to 6 significant digits, booleans as yes/no."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    return str(value)


def cell(value: Any) -> str:
    """One ``<td>``: numbers right-aligned, booleans as yes/no, the rest escaped text."""
    if isinstance(value, bool):
        return f"<td>{fmt(value)}</td>"
    if isinstance(value, int | float):
        return f'<td class="num">{esc(fmt(value))}</td>'
    return f"<td>{esc(fmt(value))}</td>"


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], *, raw: bool = False) -> str:
    """A table; cells are escaped unless ``raw`` (then they are given as ``<td>`` HTML)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = "".join(str(v) for v in row) if raw else "".join(cell(v) for v in row)
        body.append(f"<tr>{cells}</tr>")
    return f'<div class="scroll"><table><tr>{head}</tr>{"".join(body)}</table></div>'


def key_value_table(items: Iterable[tuple[str, Any]]) -> str:
    rows = [f"<tr><th>{esc(k)}</th>{cell(v)}</tr>" for k, v in items]
    return f'<div class="scroll"><table>{"".join(rows)}</table></div>'


def figure(relative: str, caption: str, alt: str | None = None) -> str:
    return (
        f'<figure><img src="{href(relative)}" alt="{esc(alt or caption)}" loading="eager">'
        f"<figcaption>{esc(caption)} ({link(relative)})</figcaption></figure>"
    )


def section(title: str, body: str, anchor: str | None = None) -> str:
    ident = f' id="{esc(anchor)}"' if anchor else ""
    return f"<section{ident}><h2>{esc(title)}</h2>{body}</section>"


def human_size(n_bytes: int) -> str:
    size = float(n_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024.0 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024.0
    return f"{size:.1f} GB"  # pragma: no cover


def page(title: str, header_html: str, body_html: str) -> str:
    """The whole document."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n"
        f"<script>{CHECK_SCRIPT}</script>\n</head>\n<body>\n"
        f"<header>{header_html}</header>\n"
        '<p id="load-problems" hidden></p>\n'
        f"<main>\n{body_html}\n</main>\n</body>\n</html>\n"
    )
