"""Turn a signed credential into what people carry and show: QR codes, share links, …

Pure functions: a credential (or its URL) in, bytes or links out. Imports `verifier`/`keys` only.
"""

from wallet_export.qr import qr_png, qr_svg
from wallet_export.share import ShareLinks, share_links

__all__ = ["ShareLinks", "qr_png", "qr_svg", "share_links"]
