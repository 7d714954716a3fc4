"""SQL expressions that write JSON byte for byte as the API's renderer does (orjson, core/renderers.py).

A large read can then be sent as the database wrote it, without Python touching each row. Each
expression gives JSON text (never SQL NULL: a missing value is the text `null`); the tests compare
the bytes with orjson's on MariaDB and on SQLite.
"""

import orjson
from django.db.models import BinaryField, Func, TextField, Value

# What orjson escapes in a string: the quote, the backslash and the control characters, in this form.
_SHORT_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
_ESCAPES = [("\\", "\\\\"), ('"', '\\"')] + [
    (chr(code), _SHORT_ESCAPES.get(chr(code), f"\\u{code:04x}")) for code in range(0x20)
]


class JSONString(Func):
    """A text column as a JSON string (null for NULL).

    SQLite's json_quote writes what orjson writes. MariaDB's JSON_QUOTE writes some control characters
    as \\u001F where orjson writes \\u001f, so MariaDB quotes a value needing no escape as it is, and
    escapes any other one character by character (rare: a name with a quote or a backslash).
    """

    output_field = TextField()

    def as_sqlite(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, template="json_quote(%(expressions)s)", **extra)

    def as_mysql(self, compiler, connection, **extra):
        value, params = compiler.compile(self.source_expressions[0])
        escaped, escape_params = value, []
        for character, escape in _ESCAPES:
            escaped = f"REPLACE({escaped}, %s, %s)"
            escape_params += [character, escape]
        sql = (
            f"COALESCE(IF(LENGTH(JSON_QUOTE({value})) = LENGTH({value}) + 2, CONCAT('\"', {value}, '\"'), "
            f"CONCAT('\"', {escaped}, '\"')), 'null')"
        )
        return sql, [*params, *params, *params, *params, *escape_params]


class JSONDateTime(Func):
    """A UTC datetime column as orjson writes it with OPT_UTC_Z (null for NULL):
    "2026-01-31T12:00:00.123456Z", the fraction left out when it is zero."""

    output_field = TextField()

    def as_sqlite(self, compiler, connection, **extra):
        # Django stores "YYYY-MM-DD HH:MM:SS[.ffffff]" in UTC (str() of the naive datetime).
        template = "COALESCE('\"' || REPLACE(%(expressions)s, ' ', 'T') || 'Z\"', 'null')"
        return super().as_sql(compiler, connection, template=template, **extra)

    def as_mysql(self, compiler, connection, **extra):
        value, params = compiler.compile(self.source_expressions[0])
        sql = (
            f"COALESCE(CONCAT('\"', DATE_FORMAT({value}, %s), "
            f"IF(MICROSECOND({value}) = 0, '', DATE_FORMAT({value}, %s)), 'Z\"'), 'null')"
        )
        return sql, [*params, "%Y-%m-%dT%H:%i:%s", *params, *params, ".%f"]


class JSONObjectBytes(Func):
    """`{"key":value,...}` as bytes, keys in the given order, from expressions that give JSON text
    (JSONString, JSONDateTime, an integer column, a JSON column as stored)."""

    output_field = BinaryField()

    def __init__(self, **fields):
        pieces = []
        for position, (key, value) in enumerate(fields.items()):
            pieces += [Value(("{" if position == 0 else ",") + orjson.dumps(key).decode() + ":"), value]
        super().__init__(*pieces, Value("}"))

    def as_sqlite(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, template="CAST(%(expressions)s AS BLOB)", arg_joiner=" || ")

    def as_mysql(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, template="CAST(CONCAT(%(expressions)s) AS BINARY)")
