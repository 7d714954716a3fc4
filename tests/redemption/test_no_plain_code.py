"""The plain code leaves the server once, in the create response: never in a table or a log."""

import logging

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

TABLES = ("redemption_orders", "redemption_attempts", "item_instances", "item_instance_events")
TEXT_TYPES = ("char", "varchar", "text", "longtext", "mediumtext", "tinytext", "json")


def text_columns(table: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = DATABASE() AND table_name = %s AND data_type IN %s",
            [table, TEXT_TYPES],
        )
        return [row[0] for row in cursor.fetchall()]


def stored_text() -> str:
    parts = []
    with connection.cursor() as cursor:
        for table in TABLES:
            columns = text_columns(table)
            assert columns, table
            cursor.execute(f"SELECT {', '.join(columns)} FROM {table}")
            parts.extend(str(value) for row in cursor.fetchall() for value in row)
    return "\n".join(parts).upper()


def test_codes_are_neither_stored_nor_logged(api, client_for, user, staff, caplog, give_item):
    caplog.set_level(logging.DEBUG)
    codes = [api.post(f"/api/v4/items/{give_item(user).pk}/redemption-orders").json()["code"] for _ in range(3)]
    reissued = api.post(f"/api/v4/items/{give_item(user).pk}/redemption-orders").json()["code"]
    item_id = api.get("/api/v4/redemption-orders").json()["results"][0]["item_instance_id"]
    codes += [reissued, api.post(f"/api/v4/items/{item_id}/redemption-orders").json()["code"]]
    merchant_api = client_for(staff)
    merchant_api.post("/api/v4/merchant/redemptions/lookup", {"code": codes[0]}, format="json")
    merchant_api.post("/api/v4/merchant/redemptions/fulfil", {"code": codes[1]}, format="json")
    merchant_api.post("/api/v4/merchant/redemptions/fulfil", {"code": codes[1]}, format="json")
    merchant_api.post("/api/v4/merchant/redemptions/fulfil", {"code": codes[3]}, format="json")

    text = stored_text()
    logs = caplog.text.upper()

    assert "redemption" in caplog.text  # the flows did log
    for code in codes:
        bare = code.replace("-", "")
        for form in (code, bare):
            assert form not in text
            assert form not in logs
        assert bare[:5] not in logs.replace("-", "")
