"""tyro's boxed parse errors as the project's one-line error (kept light: ``rwmu --help`` imports it)."""

from __future__ import annotations

BOX_CHARACTERS = " │╭╮╰╯─┃━┏┓┗┛•"


def one_line(tyro_message: str) -> str:
    """tyro's boxed parse error as one line (the project's error convention): its text without the box, the title,
    the flag's help text or the list of alternatives tried."""
    lines = [line for line in tyro_message.splitlines() if not line.lstrip().startswith(("╭", "+"))]
    body = [line.strip(BOX_CHARACTERS + "|") for line in lines if line.strip(BOX_CHARACTERS + "|-+")]
    text = " ".join(" ".join(body).split())
    for tail in (" Argument helptext:", " Got errors:", " For full helptext"):
        text = text.split(tail)[0]
    return text.rstrip(" .;:")
