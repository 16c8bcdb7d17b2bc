"""The HLS preview player: hls-video-element's <hls-video>, a <video> that plays HLS through hls.js.

rx.video (react-player 3) drops a video's `poster`; this element keeps every <video> attribute.
Its package is the one react-player already plays HLS with.
"""

from __future__ import annotations

import reflex as rx

from exports_app.reflex_bridge import ImportVar, imported_from


class HlsVideo(rx.Component):
    """<hls-video src=… poster=… controls>: the production's master playlist with its poster frame."""

    library = "hls-video-element@1.5.11"
    tag = "HlsVideo"
    is_default = True

    src: rx.Var[str]
    poster: rx.Var[str]
    controls: rx.Var[bool]
    preload: rx.Var[str]

    @property
    def import_var(self) -> ImportVar:
        # The package's default export is the custom element's class; its React component is under /react.
        return imported_from(super().import_var, "/react")


hls_video = HlsVideo.create
