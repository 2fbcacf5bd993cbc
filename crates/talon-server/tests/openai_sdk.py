"""Drives Talon's /v1 API with the official openai package, as any OpenAI user would."""
import sys

import openai

base_url, api_key = sys.argv[1], sys.argv[2]
client = openai.OpenAI(base_url=f"{base_url}/v1", api_key=api_key, max_retries=0)

reply = client.chat.completions.create(
    model="support-bot",
    messages=[{"role": "user", "content": "hello from python"}],
)
assert reply.choices[0].message.content == "hello from python", reply
assert reply.choices[0].finish_reason == "stop", reply
assert reply.usage.total_tokens > 0, reply

stream = client.chat.completions.create(
    model="support-bot",
    messages=[{"role": "user", "content": "streaming works too"}],
    stream=True,
)
text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
assert text == "streaming works too", text

models = [model.id for model in client.models.list()]
assert models == ["support-bot"], models

try:
    client.chat.completions.create(model="nobody", messages=[{"role": "user", "content": "x"}])
    raise SystemExit("expected a NotFoundError")
except openai.NotFoundError as error:
    assert error.status_code == 404

try:
    openai.OpenAI(base_url=f"{base_url}/v1", api_key="tln_wrong", max_retries=0).models.list()
    raise SystemExit("expected an AuthenticationError")
except openai.AuthenticationError as error:
    assert error.status_code == 401

print("ok")
