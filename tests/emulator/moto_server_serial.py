"""moto's server, answering one request at a time.

moto's DynamoDB backend is not safe under concurrent requests: a TransactWriteItems
that is cancelled restores the whole table from a copy taken when it began, undoing
every write that other requests made meanwhile (moto/dynamodb/models/__init__.py,
``transact_write_items``). Real DynamoDB never loses a committed write, so tests that
send requests side by side would be testing moto. Serialising the requests gives one
of the orders real DynamoDB may apply them in; connections are still accepted side by
side. Started by ``Moto::start`` (tests/emulator/src/moto.rs) on 127.0.0.1.

Usage: moto_server_serial.py HOST PORT
"""

import sys
import threading

from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    moto = DomainDispatcherApplication(create_backend_app)
    one_at_a_time = threading.Lock()

    def app(environ, start_response):
        with one_at_a_time:
            # The whole response is built under the lock.
            return list(moto(environ, start_response))

    run_simple(host, port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
