#!/usr/bin/env python3
"""A webhook receiver for trying Talon on one machine: it checks each delivery's signature and records it.

usage: webhook_receiver.py SECRET_FILE RECORD_FILE [PORT]

It listens on 127.0.0.1:PORT (PORT 0, the default, picks a free one) and prints
`listening on http://127.0.0.1:PORT/` once ready. SECRET_FILE holds the webhook's whole secret
(`whsec_…`, as Talon showed it once); it is read on every delivery, so it may be written after the
receiver starts. Each delivery appends a JSON line to RECORD_FILE: {"event", "webhookId", "verified"}.
A delivery is verified when `X-Talon-Signature` is `sha256=` + the hex HMAC-SHA256 of the raw body,
keyed with the whole secret string, and `X-Clawmit-Signature` carries the same value.
Verified deliveries get 200, others 401 (Talon then retries).
Talon refuses loopback webhook URLs unless the server runs with TALON_WEBHOOK_ALLOW_PRIVATE=true.
"""

import hashlib
import hmac
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def signature_is_valid(secret: str, body: bytes, header: str) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


def read_secret(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except FileNotFoundError:
        return ""


class Receiver(BaseHTTPRequestHandler):
    secret_file = ""
    record_file = ""

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        secret = read_secret(self.secret_file)
        # X-Clawmit-Signature carries the same value, for receivers written against that header.
        signature = self.headers.get("X-Talon-Signature", "")
        verified = (
            bool(secret)
            and signature_is_valid(secret, body, signature)
            and self.headers.get("X-Clawmit-Signature") == signature
        )
        try:
            event = json.loads(body).get("event")
        except ValueError:
            event = None
        record = {"event": event, "webhookId": self.headers.get("webhook-id"), "verified": verified}
        with open(self.record_file, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        self.send_response(200 if verified else 401)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def main() -> None:
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    Receiver.secret_file, Receiver.record_file = sys.argv[1], sys.argv[2]
    port = int(sys.argv[3]) if len(sys.argv) == 4 else 0
    server = ThreadingHTTPServer(("127.0.0.1", port), Receiver)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}/", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
