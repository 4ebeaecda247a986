"""SVG that reads the same outside graphviz (a browser, GitHub, an editor): font families with a generic
fallback and italics as font-style, and subscripts lowered and made smaller by coordinates, since browsers
ignore the `baseline-shift` graphviz puts on a <text> element. Knows SVG text only.
"""

from __future__ import annotations

import re

TEXT_TAG = re.compile(r"<text ([^>]*)>")
ATTRIBUTE = re.compile(r'([\w:-]+)="([^"]*)"')
STYLES = {" Italic": ("font-style", "italic"), " Bold": ("font-weight", "bold")}
SUB_DROP, SUPER_RISE, SCRIPT_SIZE = 0.3, 0.4, 0.75  # in ems of the text: how TeX sets a first-level script


def portable(svg: str) -> str:
    """Rewrite every <text> start tag of graphviz's SVG output (see the module docstring).

    >>> tag = '<text y="-10" font-family="DejaVu Serif Italic" baseline-shift="sub" font-size="20.00">'
    >>> portable(tag)
    '<text y="-4" font-family="DejaVu Serif, serif" font-style="italic" font-size="15">'
    """
    return TEXT_TAG.sub(lambda m: f"<text {_text_attributes(m.group(1))}>", svg)


def _text_attributes(source: str) -> str:
    attrs = dict(ATTRIBUTE.findall(source))
    out: dict[str, str] = {}
    shift = attrs.get("baseline-shift")
    size = float(attrs.get("font-size", "14"))
    for key, value in attrs.items():
        if key == "baseline-shift":
            continue
        if key == "font-family":
            value, styles = _family(value)
            out[key] = value
            out.update(styles)
        elif key == "y" and shift in ("sub", "super"):
            offset = SUB_DROP * size if shift == "sub" else -SUPER_RISE * size
            out[key] = _number(float(value) + offset)
        elif key == "font-size" and shift in ("sub", "super"):
            out[key] = _number(SCRIPT_SIZE * size)
        else:
            out[key] = value
    return " ".join(f'{key}="{value}"' for key, value in out.items())


def _family(name: str) -> tuple[str, dict[str, str]]:
    """'DejaVu Serif Italic' -> ('DejaVu Serif, serif', {'font-style': 'italic'}): a fontconfig style name
    is not a CSS family, so a browser would fall back to its default font."""
    styles = {}
    for suffix, (attribute, value) in STYLES.items():
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            styles[attribute] = value
    generic = "monospace" if "Mono" in name else "serif" if "Serif" in name else "sans-serif"
    return f"{name}, {generic}", styles


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")
