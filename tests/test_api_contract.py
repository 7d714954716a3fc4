"""The API's contract, frozen: the routes under /api/v4/ and what the OpenAPI schema promises about them.

Clients depend on paths, methods, path converters, parameters, request and response bodies and status
codes; a change to any of them shows here as a diff against the snapshots in tests/api_contract/.
Operation ids, tags, security and prose descriptions are left out: they are generated names and
documentation, not the contract. After an intended change, rewrite the snapshots with
`UPDATE_API_CONTRACT=1 pytest tests/test_api_contract.py` and review their diff like code.
"""

import difflib
import json
import os
import re
import uuid
from pathlib import Path

import pytest
from django.urls import URLResolver, get_resolver
from django.urls.converters import get_converters
from django.urls.resolvers import RoutePattern
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator

from redemption.services import merchant_staff_add
from tests.factories import MerchantFactory, StaffFactory

SNAPSHOTS = Path(__file__).parent / "api_contract"
API_PREFIX = "/api/v4/"
IGNORED_METHODS = {"HEAD", "OPTIONS"}
CONVERTER_NAMES = {type(converter): name for name, converter in get_converters().items()}


def route_parts(pattern) -> tuple[str, dict[str, str]]:
    """One URL pattern in OpenAPI form ("items/{item_id}"), and what each parameter accepts.

    A path converter is named ("int", "uuid"); a regex group keeps its regex.
    """
    if isinstance(pattern, RoutePattern):
        kinds = {
            name: CONVERTER_NAMES.get(type(conv), type(conv).__name__) for name, conv in pattern.converters.items()
        }
        return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern)), kinds
    regex = str(pattern).removeprefix("^").removesuffix("$").removesuffix(r"\Z")
    parts, kinds, position = [], {}, 0
    while (start := regex.find("(?P<", position)) != -1:
        name_end = regex.index(">", start)
        depth, end = 1, name_end + 1
        while depth:  # the group's own regex may hold parentheses of its own
            if regex[end] == "\\":
                end += 2
                continue
            depth += {"(": 1, ")": -1}.get(regex[end], 0)
            end += 1
        name = regex[start + 4 : name_end]
        kinds[name] = regex[name_end + 1 : end - 1]
        parts += [regex[position:start], "{" + name + "}"]
        position = end
    return "".join([*parts, regex[position:]]).replace("\\", ""), kinds


def allowed_methods(callback) -> list[str]:
    """For a viewset the methods of its action map, for any other view the handlers its class defines."""
    if hasattr(callback, "actions"):
        methods = callback.actions
    else:
        view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        if view_class is None:  # a plain function answers any method
            return ["*"]
        methods = [name for name in view_class.http_method_names if hasattr(view_class, name)]
    return sorted({name.upper() for name in methods} - IGNORED_METHODS)


def api_routes() -> list[dict]:
    routes = []

    def walk(patterns, prefix: str, prefix_kinds: dict[str, str]) -> None:
        for entry in patterns:
            path, kinds = route_parts(entry.pattern)
            path, kinds = prefix + path, {**prefix_kinds, **kinds}
            if isinstance(entry, URLResolver):
                if path.startswith(API_PREFIX) or API_PREFIX.startswith(path):
                    walk(entry.url_patterns, path, kinds)
            elif path.startswith(API_PREFIX):
                routes.append({"path": path, "methods": allowed_methods(entry.callback), "path_parameters": kinds})

    walk(get_resolver().url_patterns, "/", {})
    return sorted(routes, key=lambda route: route["path"])


def without_prose(node):
    """The schema without its string descriptions (a property that is named `description` stays)."""
    if isinstance(node, dict):
        return {
            key: without_prose(value)
            for key, value in node.items()
            if not (key == "description" and isinstance(value, str))
        }
    if isinstance(node, list):
        return [without_prose(value) for value in node]
    return node


def operation_contract(operation: dict) -> dict:
    parameters = [
        {"in": p["in"], "name": p["name"], "required": p.get("required", False), "schema": p["schema"]}
        for p in operation.get("parameters", [])
    ]
    request_body = operation.get("requestBody")
    return without_prose(
        {
            "parameters": sorted(parameters, key=lambda p: (p["in"], p["name"])),
            "request_body": request_body
            and {
                "required": request_body.get("required", False),
                "content": {media: body.get("schema") for media, body in request_body["content"].items()},
            },
            "responses": {
                code: {media: body.get("schema") for media, body in response.get("content", {}).items()}
                for code, response in operation["responses"].items()
            },
        }
    )


@pytest.fixture(scope="module")
def schema() -> dict:
    GENERATOR_STATS.reset()
    return SchemaGenerator().get_schema(request=None, public=True)


def assert_matches_snapshot(name: str, live) -> None:
    snapshot = SNAPSHOTS / name
    text = json.dumps(live, indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_API_CONTRACT"):
        snapshot.write_text(text)
    expected = snapshot.read_text()
    if text != expected:
        diff = difflib.unified_diff(
            expected.splitlines(keepends=True),
            text.splitlines(keepends=True),
            fromfile=f"tests/api_contract/{name} (snapshot)",
            tofile=f"{name} (live code)",
        )
        pytest.fail("The API contract changed:\n" + "".join(diff), pytrace=False)


def test_the_routes_and_their_methods_are_the_snapshot():
    assert_matches_snapshot("routes.json", api_routes())


def test_the_schema_paths_and_operations_are_the_snapshot(schema):
    paths = {
        path: {method.upper(): operation_contract(operation) for method, operation in operations.items()}
        for path, operations in schema["paths"].items()
        if path.startswith(API_PREFIX)
    }

    assert_matches_snapshot("schema_paths.json", paths)


def test_the_schema_bodies_are_the_snapshot(schema):
    assert_matches_snapshot("schema_components.json", without_prose(schema["components"]["schemas"]))


def test_the_schema_generates_without_warnings(schema):
    assert not GENERATOR_STATS, "drf-spectacular warned while generating the schema: see the captured stderr"


PATH_PARAMETER_SAMPLES = {"int": "999999", "uuid": str(uuid.UUID(int=1)), "str": "DIAMOND"}


def concrete_url(route: dict) -> str:
    return re.sub(r"{(\w+)}", lambda m: PATH_PARAMETER_SAMPLES[route["path_parameters"][m[1]]], route["path"])


@pytest.fixture
def allowed_everywhere(db):
    """A user no permission refuses: a superuser, and staff of a merchant."""
    user = StaffFactory(is_superuser=True)
    merchant_staff_add(merchant_id=MerchantFactory().pk, user_id=user.pk)
    return user


@pytest.mark.parametrize("route", api_routes(), ids=lambda route: route["path"])
def test_every_route_answers_options_and_json_even_to_a_browser(client_for, allowed_everywhere, route):
    client = client_for(allowed_everywhere)

    options = client.options(concrete_url(route))
    page = client.get(concrete_url(route), headers={"Accept": "text/html"})

    assert options.status_code == 200
    assert page.status_code < 500
    assert page["Content-Type"].startswith("application/json")


def test_every_error_response_of_every_operation_has_the_envelopes_schema(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            errors = {code: r for code, r in operation["responses"].items() if code.startswith(("4", "5"))}
            assert errors, f"{method.upper()} {path} documents no error"
            for code, response in errors.items():
                assert response["content"] == {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
                if code == "429":
                    assert response["headers"]["Retry-After"]["required"]


def test_every_body_is_json_only(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if "requestBody" in operation:
                assert list(operation["requestBody"]["content"]) == ["application/json"], (method, path)
