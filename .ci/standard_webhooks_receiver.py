"""A CRM endpoint for .ci/verify-standard-webhooks: verifies every POST with
the reference `standardwebhooks` library (not our code), appends one JSON
line per request to the log file, answers 204 when it verifies, 400 if not.

    python standard_webhooks_receiver.py PORT_FILE LOG_FILE   (secret in EVENTS_SECRET)
"""
import http.server
import json
import os
import sys

from standardwebhooks.webhooks import Webhook

secret = os.environ["EVENTS_SECRET"]
port_file, log_file = sys.argv[1], sys.argv[2]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        entry = {"webhook-id": headers.get("webhook-id")}
        try:
            payload = Webhook(secret).verify(body, headers)
            entry.update(verified=True, type=payload.get("type"), data=payload.get("data"))
            status = 204
        except Exception as err:  # any failure to verify is the finding
            entry.update(verified=False, error=repr(err))
            status = 400
        with open(log_file, "a") as log:
            log.write(json.dumps(entry) + "\n")
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
with open(port_file, "w") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
