"""Drives Talon through a client generated from its own /openapi.json by openapi-python-client.

Usage: python_client.py PACKAGE_DIR BASE_URL TOKEN. Request bodies are built from the generated models
(their classes found from each function's type hints, so the script names operations, not model classes),
and every answer is parsed back into the generated response model: a document that disagrees with the
server fails here.
"""

import importlib
import json
import sys
import typing

package_dir, base_url, token = sys.argv[1:4]
sys.path.insert(0, package_dir)
talon = importlib.import_module("talon_client")
client = talon.AuthenticatedClient(base_url=base_url, token=token, raise_on_unexpected_status=True)


def call(tag, operation, expected, *args, body=None, **params):
    module = importlib.import_module(f"talon_client.api.{tag}.{operation}")
    if body is not None:
        model = typing.get_type_hints(module.sync_detailed)["body"]
        params["body"] = model.from_dict(body)
    response = module.sync_detailed(*args, client=client, **params)
    assert response.status_code == expected, (operation, response.status_code, response.content)
    parsed = response.parsed
    assert parsed is not None and type(parsed).__name__ != "ErrorEnvelope", (operation, parsed)
    return parsed.to_dict()


agent = call("agents", "create_agent", 201, body={
    "name": "Generated Client Agent",
    "prompt": "You answer briefly.",
    "model": {"primary": "test/echo"},
    "commitMessage": "first",
})
agent_id = agent["id"]
first = agent["currentVersion"]["id"]
second = call("versions", "create_agent_version", 201, agent_id, body={
    "prompt": "You answer at length.",
    "commitMessage": "longer answers",
})
assert second["versionNumber"] == 2, second
comparison = call("versions", "compare_agent_versions", 200, agent_id, from_=first, to=second["id"])
assert "prompt" in json.dumps(comparison["diff"]), comparison

task = call("tasks", "create_task", 201, body={
    "agentId": agent_id,
    "title": "Summarise the thread",
    "input": {"messages": [{"role": "user", "content": "hello"}]},
    "executor": "external",
})
claimed = call("tasks", "claim_tasks", 200, body={"limit": 1, "leaseSeconds": 60})
assert [t["id"] for t in claimed["data"]] == [task["id"]], claimed

hook = call("webhooks", "create_webhook", 201, body={
    "url": "https://hooks.example.com/talon",
    "events": ["task.completed"],
})
assert hook["secret"].startswith("whsec_"), hook
print("ok")
