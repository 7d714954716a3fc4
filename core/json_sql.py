"""SQL expressions that write JSON byte for byte as the API's renderer does (orjson, core/renderers.py).

A large read can then be sent as the database wrote it, without Python touching each row. Each
expression gives JSON text (never SQL NULL: a missing value is the text `null`); the tests compare
the bytes with orjson's on MariaDB and on SQLite.
"""

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import BinaryField, F, Func, TextField

# What orjson escapes in a string: the quote, the backslash and the control characters, in this form.
_SHORT_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
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
            f"IF({value} IS NULL, 'null', IF(LENGTH(JSON_QUOTE({value})) = LENGTH({value}) + 2, "
            f"CONCAT('\"', {value}, '\"'), CONCAT('\"', {escaped}, '\"')))"
        )
        return sql, [*params * 5, *escape_params]


class JSONIdentifier(Func):
    """A text column whose values never need escaping (a choice: an item type, a status) as a JSON string."""

    output_field = TextField()
    template = "COALESCE(CONCAT('\"', %(expressions)s, '\"'), 'null')"

    def as_sqlite(self, compiler, connection, **extra):
        template = "COALESCE('\"' || %(expressions)s || '\"', 'null')"
        return super().as_sql(compiler, connection, template=template, **extra)


class JSONDateTime(Func):
    """A UTC datetime column as orjson writes it with OPT_UTC_Z (null for NULL):
    "2026-01-31T12:00:00.123456Z", the fraction left out when it is zero."""

    output_field = TextField()

    def as_sqlite(self, compiler, connection, **extra):
        # Django stores "YYYY-MM-DD HH:MM:SS[.ffffff]" in UTC (str() of the naive datetime).
        template = "COALESCE('\"' || REPLACE(%(expressions)s, ' ', 'T') || 'Z\"', 'null')"
        return super().as_sql(compiler, connection, template=template, **extra)

    def as_mysql(self, compiler, connection, **extra):
        # As text a DATETIME(6) is "YYYY-MM-DD HH:MM:SS.ffffff"; cutting it up is cheaper than DATE_FORMAT.
        value, params = compiler.compile(self.source_expressions[0])
        sql = (
            f"IF({value} IS NULL, 'null', CONCAT('\"', LEFT({value}, 10), 'T', "
            f"IF(MICROSECOND({value}) = 0, MID({value}, 12, 8), MID({value}, 12)), 'Z\"'))"
        )
        return sql, params * 5


class JSONObjectBytes(Func):
    """`{"key":value,...}` as bytes, keys in the given order, from expressions that give JSON text
    (JSONString, JSONIdentifier, JSONDateTime, an integer column, a JSON column as stored)."""

    output_field = BinaryField()

    def __init__(self, **fields):
        if not all(_KEY.fullmatch(key) for key in fields):
            raise ValueError("Keys are written into the SQL: letters, digits and underscores only.")
        self.keys = list(fields)
        super().__init__(*fields.values())

    def as_sql(self, compiler, connection, **extra):
        pieces, params = [], []
        for position, (key, expression) in enumerate(zip(self.keys, self.source_expressions, strict=True)):
            sql, expression_params = compiler.compile(expression)
            pieces += [f"""'{"{" if position == 0 else ","}"{key}":'""", sql]
            params += expression_params
        pieces.append("'}'")
        if connection.vendor == "sqlite":
            return f"CAST({' || '.join(pieces)} AS BLOB)", params
        return f"CAST(CONCAT({', '.join(pieces)}) AS BINARY)", params

    @classmethod
    def of(cls, keys: Sequence["JSONKey"]) -> "JSONObjectBytes":
        """The object of these keys, in their order."""
        return cls(**{key.name: key.expression() for key in keys})


class JSONKind(enum.Enum):
    IDENTIFIER = "identifier"  # a text column whose values never need escaping (a choice)
    STRING = "string"
    DATETIME = "datetime"
    INTEGER = "integer"
    JSON = "json"  # a JSON column, as stored


@dataclass(frozen=True)
class JSONKey:
    """One key of an object the database writes: the one declaration its SQL (`JSONObjectBytes.of`) and its
    documentation serializer (core.api.json_object_serializer) are built from."""

    name: str
    kind: JSONKind
    column: str = ""  # the key's name when empty
    nullable: bool = False
    help_text: str = ""

    def expression(self) -> Func | F:
        column = self.column or self.name
        writer = {JSONKind.IDENTIFIER: JSONIdentifier, JSONKind.STRING: JSONString, JSONKind.DATETIME: JSONDateTime}
        return writer[self.kind](column) if self.kind in writer else F(column)
