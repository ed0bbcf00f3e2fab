"""An OTLP/HTTP trace receiver for tests/api/otlp.rs and tests/bench/otlp.sh.

Decoding is the OpenTelemetry project's own: the PyPI package
`opentelemetry-proto` (ExportTraceServiceRequest), not code of ours. Listens
on 127.0.0.1 (random port, printed as the first line of stdout), accepts
POST /v1/traces in application/x-protobuf, and appends one JSON line per span
to the file named by argv[1] (name, ids, kind, attributes); with `--whole`
also one line per request holding all of it in protobuf's JSON form, for
searching. Exits when stdin closes, so
it never outlives the test that started it.
"""

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

OUT = sys.argv[1] if len(sys.argv) > 1 else None
WHOLE = "--whole" in sys.argv[2:]
LOCK = threading.Lock()


def value(v):
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        if self.path != "/v1/traces":
            self.send_error(404)
            return
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        lines = [json.dumps({"request": json.dumps(MessageToDict(request))})] if WHOLE else []
        for rs in request.resource_spans:
            resource = {a.key: value(a.value) for a in rs.resource.attributes}
            for ss in rs.scope_spans:
                for s in ss.spans:
                    lines.append(json.dumps({
                        "name": s.name,
                        "trace_id": s.trace_id.hex(),
                        "span_id": s.span_id.hex(),
                        "parent_span_id": s.parent_span_id.hex(),
                        "kind": s.kind,
                        "attributes": {a.key: value(a.value) for a in s.attributes},
                        "resource": resource,
                    }))
        if OUT:
            with LOCK, open(OUT, "a") as f:
                f.write("".join(line + "\n" for line in lines))
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()
    os._exit(0)


if __name__ == "__main__":
    main()
