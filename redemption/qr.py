import io

import segno


def qr_svg(text: str) -> str:
    """An inline SVG QR code of `text`, for the app to show next to the code."""
    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="svg", xmldecl=False, scale=4, border=2)
    return buffer.getvalue().decode()
