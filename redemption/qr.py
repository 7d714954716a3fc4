import io

import segno


def qr_code(text: str) -> segno.QRCode:
    """The QR code of `text` the customer shows at the counter.

    A full QR code, never a Micro QR: segno.make picks Micro QR (M4) for a 14-character code,
    which phone cameras, handheld scanners, BarcodeDetector and jsQR do not read.
    """
    return segno.make_qr(text, error="m")


def qr_svg(text: str) -> str:
    """An inline SVG QR code of `text`, for the app to show next to the code."""
    buffer = io.BytesIO()
    qr_code(text).save(buffer, kind="svg", xmldecl=False, scale=4, border=4)
    return buffer.getvalue().decode()
