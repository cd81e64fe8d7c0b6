"""The <head> both dashboard pages share: plotly.js and the CSS inlined, nothing fetched."""

from __future__ import annotations

import html


def page_head(title: str, css: str, plotly_js: str) -> str:
    """The doctype, <html> and the whole <head> of a dashboard page titled `title`."""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{html.escape(title)}</title>
<style>{css}</style>
<script type="text/javascript">{plotly_js}</script>
</head>
"""
