"""A button that copies a text to the clipboard (the Code tab's *Copy code*)."""

from __future__ import annotations

from pathlib import Path

import anywidget
import traitlets

__all__ = ["CopyButton"]

_STATIC = Path(__file__).parent / "static"


class CopyButton(anywidget.AnyWidget):
    """A button whose click puts :attr:`text` on the browser's clipboard.

    A copy needs the browser (Python cannot reach the clipboard of the person's
    machine), so the click is handled in the front end: the Clipboard API in a secure
    context (https or localhost), a hidden text area and ``execCommand("copy")``
    elsewhere. A note beside the button says whether it worked.

    Examples
    --------
    >>> b = CopyButton(text="print('hello')", label="Copy code")
    >>> b.copies
    0
    """

    _esm = _STATIC / "copy.js"

    text = traitlets.Unicode("", help="What the button copies.").tag(sync=True)
    label = traitlets.Unicode("Copy", help="The button's label.").tag(sync=True)
    copies = traitlets.Int(
        0, help="How many times the front end copied the text successfully (a test hook)."
    ).tag(sync=True)
