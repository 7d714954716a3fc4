"""A video for Chromium's fake camera (--use-file-for-fake-video-capture): a QR code on white, as Y4M."""

from pathlib import Path

from redemption.qr import qr_code

WIDTH, HEIGHT = 640, 480
MODULE_PX = 8
QUIET_ZONE = 4  # modules of white around the code


def write_qr_video(path: Path, text: str | None, *, frames: int = 5) -> None:
    """Frames of the product's QR code of `text` (or a blank white picture for None), 10 fps, 4:2:0."""
    luma = bytearray(b"\xff" * (WIDTH * HEIGHT))
    if text is not None:
        matrix = qr_code(text).matrix
        size = (len(matrix) + 2 * QUIET_ZONE) * MODULE_PX
        left, top = (WIDTH - size) // 2, (HEIGHT - size) // 2
        for row_index, row in enumerate(matrix):
            for column_index, dark in enumerate(row):
                if not dark:
                    continue
                x = left + (column_index + QUIET_ZONE) * MODULE_PX
                y = top + (row_index + QUIET_ZONE) * MODULE_PX
                for line in range(y, y + MODULE_PX):
                    luma[line * WIDTH + x : line * WIDTH + x + MODULE_PX] = b"\x00" * MODULE_PX
    chroma = b"\x80" * ((WIDTH // 2) * (HEIGHT // 2))  # no colour: U and V at their midpoint
    frame = b"FRAME\n" + bytes(luma) + chroma + chroma
    header = f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F10:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + frame * frames)
