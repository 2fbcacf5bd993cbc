"""Schemathesis hooks for tests/schemathesis.sh: what a client does that a schema cannot say.

- Every request that sends an Idempotency-Key sends a fresh one, as a client does for each new request.
  Reusing a key is answered from the stored response (tested in the server's own suite), which would
  otherwise make a generated POST return an earlier, since-deleted resource.
- A body's tools have distinct names: the server refuses a repeated tool name with 400, and JSON Schema
  can require distinct array items but not distinct values of one member.
- Likewise, a batch that ends tasks (`POST /api/tasks/complete`, `/fail`) names each task once.
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


def _distinct_texts(values):
    # Only values that are text can repeat; a generated wrong type is for the server to refuse.
    texts = [value for value in values if isinstance(value, str)]
    return len(texts) == len(set(texts))


@schemathesis.hook
def filter_case(context, case):
    body = case.body
    if not isinstance(body, dict):
        return True
    tools = body.get("tools")
    if isinstance(tools, list) and not _distinct_texts(_tool_name(tool) for tool in tools):
        return False
    tasks = body.get("tasks")
    ends_tasks = case.path in ("/api/tasks/complete", "/api/tasks/fail")
    if ends_tasks and isinstance(tasks, list):
        return _distinct_texts(task.get("id") for task in tasks if isinstance(task, dict))
    return True
