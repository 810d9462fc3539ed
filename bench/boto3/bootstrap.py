"""A minimal Lambda runtime for Python handlers, for the benchmark's boto3 baselines.

It does what Lambda's Python runtime does, and no more: import the handler module named
by _HANDLER (its module-level code is the function's init), then loop on the Runtime
API: GET .../invocation/next, call the handler, POST .../response or .../error.
Standard library only (urllib); AWS_LAMBDA_RUNTIME_API points at the benchmark's
stand-in on 127.0.0.1.
"""

import importlib
import json
import os
import sys
import traceback
import urllib.request

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"


def post(path, payload):
    body = json.dumps(payload).encode()
    request = urllib.request.Request(API + path, data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request) as reply:
        reply.read()


def error_object(exc):
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(exc)[-5:],
    }


def main():
    sys.path.insert(0, os.environ.get("LAMBDA_TASK_ROOT", os.path.dirname(os.path.abspath(__file__))))
    module_name, function_name = os.environ["_HANDLER"].rsplit(".", 1)
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as exc:  # noqa: BLE001 - reported to the runtime, as Lambda does
        post("/init/error", error_object(exc))
        raise
    # No proxy, ever: the stand-in is on loopback.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    urllib.request.install_opener(opener)
    while True:
        with urllib.request.urlopen(API + "/invocation/next") as reply:
            request_id = reply.headers["Lambda-Runtime-Aws-Request-Id"]
            event = json.loads(reply.read())
        try:
            result = handler(event, None)
        except Exception as exc:  # noqa: BLE001 - reported as the invocation's error
            post("/invocation/" + request_id + "/error", error_object(exc))
        else:
            post("/invocation/" + request_id + "/response", result)


if __name__ == "__main__":
    main()
