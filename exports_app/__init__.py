"""exports_app: turn exported videos into HLS productions and publish them."""
