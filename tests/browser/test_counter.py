"""The counter in a real browser: typed, scanned (keystrokes + Enter) and read by the camera."""

import time

import pytest
from selenium.webdriver.common.keys import Keys

from items.models import ItemInstance, ItemStatus
from redemption.services import merchant_staff_add, order_create
from tests.browser.fake_camera import write_qr_video
from tests.factories import MerchantFactory, StaffFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

VERIFY = "/admin/redemption/codeverification/"


@pytest.fixture
def cashier():
    merchant = MerchantFactory(code="NOODLE", name="Noodle House")
    staff = StaffFactory()
    merchant_staff_add(merchant_id=merchant.pk, user_id=staff.pk)
    return staff


@pytest.fixture
def customer():
    return UserFactory(first_name="Alice")


@pytest.fixture
def new_code(give_item):
    def new_code(customer, name="Beef noodles") -> tuple[int, str]:
        """A real order made by the product for a voucher worth ¥38.00: (item id, code)."""
        voucher = give_item(customer, name=name)
        return voucher.pk, order_create(item_id=voucher.pk, user_id=customer.pk).code

    return new_code


def test_merchant_staff_log_in_type_a_code_look_up_confirm_and_a_second_confirm_is_refused(
    page, cashier, customer, new_code
):
    item_id, code = new_code(customer)

    page.log_in(cashier)  # merchant staff land on the counter
    page.wait_for("#id_code")
    assert page.driver.current_url.endswith(VERIFY)
    page.find("#id_code").send_keys(code)
    page.find("#lookup-button").click()
    page.wait_for("#verification")
    assert "Beef noodles" in page.find("#verification h2").text
    assert page.find("#item-value").text == "¥38.00"
    assert page.find("#order-status").text == "Pending"
    # A second window on the same lookup (a colleague, a stale tab): both show "Confirm".
    first = page.driver.current_window_handle
    page.driver.switch_to.new_window("tab")
    page.open(VERIFY)
    page.find("#id_code").send_keys(code + Keys.ENTER)
    page.wait_for("#confirm-button")
    page.driver.switch_to.window(first)

    page.find("#confirm-button").click()
    page.wait_for(".messagelist .success")
    assert "Redeemed: Beef noodles" in page.find(".messagelist").text
    page.driver.switch_to.window(page.driver.window_handles[-1])
    page.find("#confirm-button").click()
    page.wait_for(".messagelist .error")

    assert "Refused: The code was already used at" in page.find(".messagelist").text
    assert "Noodle House" in page.find(".messagelist").text
    page.driver.close()
    page.driver.switch_to.window(first)
    assert ItemInstance.objects.get(pk=item_id).status == ItemStatus.USED


def test_a_handheld_scanner_types_the_code_and_enter_then_the_field_is_ready_for_the_next_customer(
    page, cashier, customer, timing, new_code
):
    _, code = new_code(customer)
    page.log_in(cashier)
    page.wait_for("#id_code")

    scanner = page.driver.switch_to.active_element  # the field has the focus: the scanner types into it
    assert scanner.get_attribute("id") == "id_code"
    started = time.perf_counter()
    scanner.send_keys(code.replace("-", "").lower() + Keys.ENTER)
    page.wait_for("#confirm-button")
    timing("counter lookup (Enter to result)", time.perf_counter() - started)
    started = time.perf_counter()
    page.find("#confirm-button").click()
    page.wait_for(".messagelist .success")
    timing("counter confirm (click to result)", time.perf_counter() - started)

    field = page.driver.switch_to.active_element
    assert field.get_attribute("id") == "id_code"
    assert field.get_attribute("value") == ""
    assert page.find("#counter-totals .today").text == "1 · ¥38.00"


def test_the_camera_reads_the_customers_qr_code_and_looks_it_up(page, cashier, customer, camera_file, timing, new_code):
    _, code = new_code(customer, name="Dumplings")
    write_qr_video(camera_file, code)  # what the customer's phone shows
    page.log_in(cashier)
    page.wait_for("#scan-button")
    # Chromium on Linux has no BarcodeDetector: there the vendored jsQR reads the frames.
    decoder = "BarcodeDetector" if page.driver.execute_script("return 'BarcodeDetector' in window") else "jsQR"

    started = time.perf_counter()
    page.find("#scan-button").click()
    page.wait_for("#verification", timeout=20)
    timing(f"camera with {decoder}: click to lookup result", time.perf_counter() - started)

    assert "Dumplings" in page.find("#verification h2").text
    assert page.find("#id_code").get_attribute("value") == code
    assert page.find("#order-status").text == "Pending"


def test_a_refused_camera_falls_back_to_typing_with_a_message(page, cashier):
    page.log_in(cashier)
    page.wait_for("#scan-button")
    page.driver.execute_script(
        "navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('denied', 'NotAllowedError'));"
    )

    page.find("#scan-button").click()
    message = page.wait_for("#camera-message.error")

    assert message.text == "Camera permission was refused. Type the code or use the scanner."
    assert page.driver.switch_to.active_element.get_attribute("id") == "id_code"
    assert not page.find("#camera-preview").is_displayed()


def test_the_counter_fits_a_phone_and_its_controls_take_a_thumb(page, cashier, customer, artifacts, new_code):
    _, code = new_code(customer)
    page.driver.set_window_size(390, 844)
    page.log_in(cashier)
    page.find("#id_code").send_keys(code + Keys.ENTER)
    page.wait_for("#confirm-button")

    width = page.driver.execute_script("return document.documentElement.clientWidth")
    scroll_width = page.driver.execute_script("return document.documentElement.scrollWidth")
    page.driver.save_screenshot(str(artifacts / "counter-phone.png"))

    assert scroll_width <= width  # nothing sticks out sideways
    for css in ("#id_code", "#lookup-button", "#scan-button", "#confirm-button"):
        size = page.find(css).size
        assert size["height"] >= 48, css
        assert size["width"] >= 0.8 * width - 40, css
