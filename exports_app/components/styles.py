"""Colors and shared styles: blue for actions, dark gray when disabled, burgundy for delete."""

BLUE = "#2563eb"
DARK_GRAY = "#4b5563"
BURGUNDY = "#800020"
PAGE_BG = "#f6f7f9"
TEXT_MUTED = "#6b7280"
ERROR_RED = "#b91c1c"  # error lines: 6.5:1 on white (CSS red is 4:1, under WCAG AA)
THUMB_BG = "#e5e7eb"  # behind a thumbnail while it loads, or when an export has no frame

BADGE_COLOR = {"not_ready": "gray", "in_progress": "amber", "ready": "green", "failed": "red"}

BUTTON_BASE = {"width": "100%", "color": "white", "cursor": "pointer", "font_weight": "500"}


def filled(color: object) -> dict[str, object]:
    """A solid button style in color (a CSS value or a Var choosing one)."""
    return {**BUTTON_BASE, "background_color": color, "_hover": {"filter": "brightness(1.1)"},
            "_disabled": {"cursor": "not-allowed", "opacity": "1", "background_color": DARK_GRAY}}
