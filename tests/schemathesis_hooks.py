"""Schemathesis hooks for tests/schemathesis.sh: what a client does that a schema cannot say.

- Every request that sends an Idempotency-Key sends a fresh one, as a client does for each new request.
  Reusing a key is answered from the stored response (tested in the server's own suite), which would
  otherwise make a generated POST return an earlier, since-deleted resource.
- A body's tools have distinct names: the server refuses a repeated tool name with 400, and JSON Schema
  can require distinct array items but not distinct values of one member.
- Likewise, a batch that ends tasks (`POST /api/tasks/complete`, `/fail`) names each task once.
- A list is read by page number or by one cursor: the server refuses `page`, `startingAfter` and
  `endingBefore` given together (400), and parameters of a query cannot exclude each other in a schema.
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
    tasks = body.get("tasks")
    ends_tasks = case.path in ("/api/tasks/complete", "/api/tasks/fail")
    if ends_tasks and isinstance(tasks, list):
        return _distinct_texts(task.get("id") for task in tasks if isinstance(task, dict))
    return True
