"""Colors and shared styles: blue for actions, dark gray when disabled, burgundy for delete.

Colors are theme tokens: CSS custom properties on :root, valued once in assets/styles.css (so the modal and
toasts, which Radix renders outside the page's box, see them too); components name the token, never a hex.
"""


def token(name: str) -> str:
    """The CSS value of the theme color `--exports-<name>`."""
    return f"var(--exports-{name})"


BLUE = token("action")  # Prep, and Publish once ready (docs/ui.md)
DARK_GRAY = token("inactive")  # disabled buttons
BURGUNDY = token("destructive")  # Delete
PAGE_BG = token("page")
TEXT_MUTED = token("muted")
ERROR_RED = token("error")  # error lines: 6.5:1 on white (CSS red is 4:1, under WCAG AA)
THUMB_BG = token("thumb")  # behind a thumbnail while it loads, or when an export has no frame
READY_GREEN = token("success")  # a "ready to publish" notice
BORDER = token("border")
BORDER_STRONG = token("border-strong")

BUTTON_BASE = {"width": "100%", "color": "white", "cursor": "pointer", "font_weight": "500"}


def filled(color: object) -> dict[str, object]:
    """A solid button style in color (a CSS value or a Var choosing one)."""
    return {
        **BUTTON_BASE,
        "background_color": color,
        "_hover": {"filter": "brightness(1.1)"},
        "_disabled": {"cursor": "not-allowed", "opacity": "1", "background_color": DARK_GRAY},
    }
