"""moto's server, answering one request at a time.

moto's threaded server races under concurrent DynamoDB transactions (TransactWriteItems
deep-copies whole tables while other threads write them, failing with HTTP 500), which the
tests' concurrency provokes. Serving requests one by one removes the race; real DynamoDB is
unaffected, and the emulator is CPU-bound under the GIL anyway.
"""

import argparse

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    run_simple(args.host, args.port, DomainDispatcherApplication(create_backend_app), threaded=False)


if __name__ == "__main__":
    main()
