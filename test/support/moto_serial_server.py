"""moto's server, one request at a time: DynamoDB's atomic conditional writes, as the tests need.

DynamoDB applies a conditional write atomically. moto_server runs each request on its own thread
and checks a ConditionExpression, then applies the update, in separate steps; two concurrent
UpdateItems conditioned on the same version can then both succeed (measured: 3 of 300 rounds of
three concurrent claims had two winners), which reads as a double claim, a double alert. One lock
around each request restores the guarantee the code relies on. moto itself is not changed.

Usage: python3 moto_serial_server.py HOST PORT
"""

import os
import signal
import sys
from threading import Lock

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    moto_app = DomainDispatcherApplication(create_backend_app)
    lock = Lock()

    def serialized(environ, start_response):
        with lock:
            # The whole body inside the lock: a lazy response would run after the lock is released.
            return list(moto_app(environ, start_response))

    run_simple(host, port, serialized, threaded=True)


if __name__ == "__main__":
    main()
