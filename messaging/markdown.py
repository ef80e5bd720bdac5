"""Markdown to HTML that is safe to show: markdown-it-py renders (raw HTML off), nh3 (the
Ammonia sanitiser) keeps only an allow-list of tags and attributes. Either alone would do for
the common case; together an HTML block that slips through the renderer is still stripped."""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

_MD = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
TAGS = {
    "p", "br", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "a", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}}


def render(markdown: str) -> str:
    """Sanitised HTML of ``markdown``: no script, style, event handler, image or iframe, links
    only to http(s) and mailto, every link rel="noopener noreferrer nofollow"."""
    html = _MD.render(markdown)
    return nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
