"""Schemathesis hooks for tests/schemathesis.sh: what a client does that a schema cannot say.

- Every request that sends an Idempotency-Key sends a fresh one, as a client does for each new request.
  Reusing a key is answered from the stored response (tested in the server's own suite), which would
  otherwise make a generated POST return an earlier, since-deleted resource.
- A body's tools have distinct names: the server refuses a repeated tool name with 400, and JSON Schema
  can require distinct array items but not distinct values of one member.
"""

import re
import uuid

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


@schemathesis.hook
def filter_case(context, case):
    body = case.body
    tools = body.get("tools") if isinstance(body, dict) else None
    if not isinstance(tools, list):
        return True
    names = [_tool_name(tool) for tool in tools]
    # Only names that are text can repeat; a generated wrong type is for the server to refuse.
    named = [name for name in names if isinstance(name, str)]
    return len(named) == len(set(named))
