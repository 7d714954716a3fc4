from redemption.codes import code_generate
from redemption.qr import qr_code, qr_svg


def test_the_code_is_a_full_qr_code_that_cameras_and_scanners_read():
    code = code_generate()

    qr = qr_code(code)

    assert not qr.is_micro  # segno.make would choose Micro QR for 14 characters: most readers cannot
    assert qr_svg(code).startswith("<svg")
