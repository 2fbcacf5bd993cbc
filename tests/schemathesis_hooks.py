"""Schemathesis hooks for tests/schemathesis.sh: what a client does that a schema cannot say.

- Every request that sends an Idempotency-Key sends a fresh one, as a client does for each new request.
  Reusing a key is answered from the stored response (tested in the server's own suite), which would
  otherwise make a generated POST return an earlier, since-deleted resource.
- A body's tools have distinct names: the server refuses a repeated tool name with 400, and JSON Schema
  can require distinct array items but not distinct values of one member.
- Likewise, a batch that ends tasks (`POST /api/tasks/complete`, `/fail`) names each task once, a
  dataset's cases have distinct names, and an evaluation's versions are distinct once read (`1`, `1.0` and
  `"1"` all name version 1; the document can only say the JSON values differ).
- A dataset's checks compile: its regular expressions (Rust's syntax: no look-around or backreferences),
  JSON Schemas (their meta-schema) and JSONPaths (here, the plain `$.a.b[0]` form). A schema cannot say
  that a string compiles.
- A list is read by page number or by one cursor: the server refuses `page`, `startingAfter` and
  `endingBefore` given together (400), and parameters of a query cannot exclude each other in a schema.
"""

import re
import uuid

import jsonschema
import schemathesis


VALID_KEY = re.compile(r"[\x21-\x7e]{1,255}")


@schemathesis.hook
def map_case(context, case):
    key = (case.headers or {}).get("Idempotency-Key")
    # A key the server accepts is made fresh; a malformed one is left for the server to refuse.
    if isinstance(key, str) and VALID_KEY.fullmatch(key):
        case.headers["Idempotency-Key"] = uuid.uuid4().hex
    return case


def _tool_name(tool):
    if not isinstance(tool, dict):
        return None
    function = tool.get("function")
    if isinstance(function, dict):
        return function.get("name")
    return tool.get("name")


def _distinct_texts(values):
    # Only values that are text can repeat; a generated wrong type is for the server to refuse.
    texts = [value for value in values if isinstance(value, str)]
    return len(texts) == len(set(texts))


SIMPLE_PATH = re.compile(r"\$(\.[A-Za-z_][A-Za-z0-9_]*|\[[0-9]+\])*")


def _check_compiles(check):
    if not isinstance(check, dict):
        return True
    kind = check.get("type")
    if kind == "regex" and isinstance(check.get("pattern"), str):
        pattern = check["pattern"]
        if "(?" in pattern or re.search(r"\\[0-9]", pattern):
            return False
        try:
            re.compile(pattern)
        except re.error:
            return False
    if kind == "jsonSchema" and isinstance(check.get("schema"), dict):
        try:
            jsonschema.validators.validator_for(check["schema"]).check_schema(check["schema"])
        except Exception:  # any refusal of the schema, whatever the draft's error type
            return False
    if kind == "numeric" and isinstance(check.get("path"), str):
        return SIMPLE_PATH.fullmatch(check["path"]) is not None
    return True


def _cases_compile(cases):
    return all(
        _check_compiles(check)
        for case in cases
        if isinstance(case, dict) and isinstance(case.get("checks"), list)
        for check in case["checks"]
    )


def _version_named(version):
    if isinstance(version, bool):
        return repr(version)
    if isinstance(version, (int, float)) and float(version).is_integer():
        return str(int(version))
    if isinstance(version, str) and version.isdecimal():
        return str(int(version))
    return repr(version)


PAGE_CHOICES = ("page", "startingAfter", "endingBefore")


@schemathesis.hook
def filter_case(context, case):
    query = case.query or {}
    if sum(1 for name in PAGE_CHOICES if query.get(name) is not None) > 1:
        return False
    body = case.body
    if not isinstance(body, dict):
        return True
    tools = body.get("tools")
    if isinstance(tools, list) and not _distinct_texts(_tool_name(tool) for tool in tools):
        return False
    cases = body.get("cases")
    if isinstance(cases, list):
        if not _distinct_texts(case.get("name") for case in cases if isinstance(case, dict)):
            return False
        if not _cases_compile(cases):
            return False
    versions = body.get("versions")
    if case.path.endswith("/evaluations") and isinstance(versions, list):
        named = [_version_named(version) for version in versions]
        if len(set(named)) != len(named):
            return False
    tasks = body.get("tasks")
    ends_tasks = case.path in ("/api/tasks/complete", "/api/tasks/fail")
    if ends_tasks and isinstance(tasks, list):
        return _distinct_texts(task.get("id") for task in tasks if isinstance(task, dict))
    return True
