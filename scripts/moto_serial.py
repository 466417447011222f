"""moto's server, executing one request at a time.

moto's threaded server races under concurrent DynamoDB transactions (TransactWriteItems
deep-copies whole tables while other threads write them, failing with HTTP 500), which the
tests' concurrency provokes. Connections are still accepted by many threads, so none is
refused, but requests run one by one behind a lock. Real DynamoDB is unaffected, and the
emulator is CPU-bound under the GIL anyway.
"""

import argparse
import json
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


class Serialised:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == SES_RAW_PATH:
            return self.ses_raw_messages(start_response)
        with self.lock:
            # Materialise the response inside the lock: a lazy body would run outside it.
            return list(self.app(environ, start_response))


    def ses_raw_messages(self, start_response):
        """Every raw message SES accepted, as a JSON list of {"id", "raw_data"}: what the tests
        read back.
        moto's own /moto-api/data.json serialises every model of every service (each DynamoDB
        item of every test included) and grows slower with each test."""
        from moto.ses.models import RawMessage, ses_backends

        with self.lock:
            raws = [
                {"id": message.id, "raw_data": message.raw_data}
                for regions in list(ses_backends.values())
                for backend in list(regions.values())
                for message in list(backend.sent_messages)
                if isinstance(message, RawMessage)
            ]
        body = json.dumps(raws).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


SES_RAW_PATH = "/docket-test/ses-raw-messages"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    app = Serialised(DomainDispatcherApplication(create_backend_app))
    run_simple(args.host, args.port, app, threaded=True)


if __name__ == "__main__":
    main()
