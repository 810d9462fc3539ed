"""Both Step Functions definitions, as CloudFormation renders them, run for real in the
independent ASL engine aws-local-stepfunctions (npm, pinned in package.json), with each
Lambda task invoking the real function binary under `cargo lambda watch` against the
Identity Store emulator and the event ledger on moto's DynamoDB, and the EventBridge and
SNS tasks captured. The harness and the scenarios are in infra/workflows/ (README.md
there); this module builds and starts what they need, runs them once, and checks each
scenario's outcome: the execution's end, the states it went through, the function
results, the retries, the captured events and notifications, and the store at the end
(the emulator's GET /_admin/state?full=true).

Everything listens on 127.0.0.1 and is stopped afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import infra_support as infra

LOOPBACK = "127.0.0.1"
WORKFLOWS = infra.INFRA / "workflows"
SCENARIOS = sorted((WORKFLOWS / "scenarios").glob("*.json"))
ENGINE = "aws-local-stepfunctions"
# The grace period the offboarding definition is rendered with (the template parameter
# OffboardingGracePeriodSeconds, default 7 days).
GRACE_SECONDS = 1
# The attempts per Identity Store call inside the functions (MAX_ATTEMPTS; the template
# deploys 8): small, so that a fault made on every attempt exhausts them quickly.
MAX_ATTEMPTS = 2
LEDGER_TABLE = "turnstile-workflows-ledger"
STORE_ID = "d-1234567890"
# Each watcher serves the functions with one environment; a step picks one by name.
WATCHERS = {
    "main": {},
    "strict": {"CREATE_MISSING_GROUPS": "false"},
    "misconfigured": {"IDENTITY_STORE_ID": "not-a-store"},
}
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited ({process.returncode}):\n{_tail(log)}")
        try:
            socket.create_connection((LOOPBACK, port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on {LOOPBACK}:{port}:\n{_tail(log)}") from None
            time.sleep(0.1)


def _tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _logs(work: Path) -> str:
    return "\n".join(f"--- {p.name} (last lines)\n{_tail(p)}" for p in sorted(work.glob("*.log")))


def _post(url: str, body: object, timeout: float) -> tuple[int, str]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    try:
        with OPENER.open(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def _cargo_build(*args: str) -> None:
    # As scripts/demo.sh builds: the functions at the workspace root with no package named
    # (the default members, the feature set `cargo lambda watch` builds too, so the
    # watchers find them built), the emulator on its own so its features stay out.
    done = subprocess.run(["cargo", "build", "--quiet", "--locked", *args], cwd=infra.ROOT, capture_output=True, text=True)
    assert done.returncode == 0, f"cargo build {' '.join(args)} failed:\n{done.stderr}"


class Processes:
    """The servers this module starts; stopped in reverse order, each by its own id."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.started: list[tuple[subprocess.Popen, int]] = []
        self.files = []

    def start(self, name: str, command: list[str], stop_signal: int = signal.SIGTERM) -> tuple[subprocess.Popen, Path]:
        log = self.logs / f"{name}.log"
        output = log.open("wb")
        self.files.append(output)
        process = subprocess.Popen(
            command,
            cwd=infra.ROOT,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            process_group=0,
        )
        self.started.append((process, stop_signal))
        return process, log

    def stop(self) -> None:
        for process, stop_signal in reversed(self.started):
            if process.poll() is None:
                process.send_signal(stop_signal)
        for process, _ in reversed(self.started):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                # Whatever it started is in its process group (process_group=0).
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for output in self.files:
            output.close()


def _ledger_table(endpoint: str) -> None:
    import boto3

    boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="eu-west-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    ).create_table(
        TableName=LEDGER_TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in ("pk", "sk")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )


def _function_arns() -> dict[str, str]:
    """The function ARNs the rendered definitions carry (each function's alias) -> the
    binary that serves each."""
    return {infra.function_alias_arn(logical_id): binary for logical_id, binary in infra.functions().items()}


@pytest.fixture(scope="module")
def report(moto_endpoint):
    node = shutil.which("node")
    assert node, "node is not installed"
    engine_package = infra.ROOT / "node_modules" / ENGINE / "package.json"
    assert engine_package.exists(), f"{engine_package} is missing: run ./scripts/bootstrap.sh"
    cargo_lambda = infra.ROOT / ".venv" / "bin" / "cargo-lambda"
    assert cargo_lambda.exists(), f"{cargo_lambda} is missing: run ./scripts/bootstrap.sh"

    _cargo_build("--bins")
    _cargo_build("-p", "turnstile-emulator", "--bin", "identitystore-emulator")
    target = Path(infra.cargo_metadata()["target_directory"])

    work = Path(tempfile.mkdtemp(prefix="turnstile-workflows-"))
    processes = Processes(work)
    try:
        emulator_port = _free_port()
        emulator, log = processes.start(
            "emulator",
            [str(target / "debug" / "identitystore-emulator"), "--listen", f"{LOOPBACK}:{emulator_port}"],
        )
        _wait_for_port(emulator_port, emulator, log)
        _ledger_table(moto_endpoint)

        watchers = {}
        for name, overrides in WATCHERS.items():
            port = _free_port()
            env = {
                "IDENTITY_STORE_ID": STORE_ID,
                "AWS_REGION": "eu-west-1",
                "AWS_ACCESS_KEY_ID": "emulator",
                "AWS_SECRET_ACCESS_KEY": "emulator",
                "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_ENDPOINT_URL_IDENTITYSTORE": f"http://{LOOPBACK}:{emulator_port}",
                "AWS_ENDPOINT_URL_DYNAMODB": moto_endpoint,
                "LEDGER_TABLE": LEDGER_TABLE,
                "LEAVERS_GROUP": "turnstile-leavers",
                "MAX_ATTEMPTS": str(MAX_ATTEMPTS),
                "BACKOFF_BASE_MS": "100",
                "AWS_LAMBDA_LOG_FORMAT": "JSON",
                **overrides,
            }
            command = [str(cargo_lambda), "lambda", "watch", "--ignore-changes", "--invoke-address", LOOPBACK, "--invoke-port", str(port)]
            for key, value in env.items():
                command += ["--env-var", f"{key}={value}"]
            # SIGINT, as Ctrl-C: cargo lambda then stops the function processes it started.
            watcher, log = processes.start(f"watch-{name}", command, stop_signal=signal.SIGINT)
            _wait_for_port(port, watcher, log)
            watchers[name] = f"http://{LOOPBACK}:{port}"

        # Each watcher starts a function on its first invocation (cargo checks the build,
        # waiting for the build lock if another build holds it): done here, outside the
        # engine's 60 s task timeout, with a request that no function gets past
        # validation (InvalidEvent; Configuration on the misconfigured watcher).
        reached = sorted(set().union(*(infra.binaries_reached(m) for m in infra.state_machines())))
        for name, url in watchers.items():
            for function in reached:
                try:
                    status, body = _post(f"{url}/2015-03-31/functions/{function}/invocations", [], timeout=600)
                except OSError as e:
                    pytest.fail(f"{name}/{function}: the watcher did not start the function ({e}):\n{_logs(work)}")
                assert status in (200, 500) and "errorType" in body, f"{name}/{function} warm-up: {status} {body}"

        definitions = {}
        for logical_id, machine in infra.state_machines().items():
            name = machine["path"].name.removesuffix(".asl.json")
            path = work / machine["path"].name
            path.write_text(
                infra.rendered_definition(logical_id, {"OffboardingGracePeriodSeconds": GRACE_SECONDS}),
                encoding="utf-8",
            )
            definitions[name] = str(path)
        config = {
            "definitions": definitions,
            "functions": _function_arns(),
            "watchers": watchers,
            "emulator": f"http://{LOOPBACK}:{emulator_port}",
            "scenarios": [str(p) for p in SCENARIOS],
            "retryDelayMs": 0,
            "engineVersion": json.loads(engine_package.read_text())["version"],
            "report": str(work / "report.json"),
        }
        (work / "config.json").write_text(json.dumps(config, indent=2))
        started = time.monotonic()
        done = subprocess.run(
            [node, "--import", str(WORKFLOWS / "polyfill.mjs"), str(WORKFLOWS / "harness.mjs"), str(work / "config.json")],
            cwd=infra.ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
        elapsed = time.monotonic() - started
        sys.stderr.write(done.stderr)
        if done.returncode != 0:
            pytest.fail(f"the harness failed ({done.returncode}):\n{done.stderr}\n{_logs(work)}")
        result = json.loads((work / "report.json").read_text())
        if os.environ.get("WORKFLOWS_REPORT"):
            # A copy of the harness's report, to read when a scenario fails.
            shutil.copyfile(work / "report.json", os.environ["WORKFLOWS_REPORT"])
        result["wallSeconds"] = elapsed
        print(f"workflows: {len(result['scenarios'])} scenarios in {elapsed:.1f} s (engine {result['engine']}, node {result['node']})")
        yield result
    finally:
        processes.stop()
        shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def scenario(report, name):
    return report["scenarios"][name]


def step(report, scenario_name, step_name):
    for s in scenario(report, scenario_name)["steps"]:
        if s["name"] == step_name:
            return s
        for inner in s["during"]:
            if inner["name"] == step_name:
                return inner
    raise KeyError(f"{scenario_name} has no step {step_name}")


def definition(machine):
    """The rendered definition of the state machine `machine` ("onboarding", "offboarding")."""
    for logical_id, m in infra.state_machines().items():
        if m["path"].name == f"{machine}.asl.json":
            return json.loads(infra.rendered_definition(logical_id))
    raise KeyError(machine)


def all_steps(report):
    for sc in report["scenarios"].values():
        for s in sc["steps"]:
            yield s
            yield from s["during"]


def results(s):
    """The function results of the step's invocations, in order (an error object for a
    failed invocation)."""
    return [inv.get("result", inv.get("error")) for inv in s["invocations"]]


def only_event(s, detail_type):
    assert s["notifications"] == [], f"{s['name']}: unexpected notification {s['notifications']}"
    assert len(s["events"]) == 1, f"{s['name']}: events {s['events']}"
    event = s["events"][0]
    assert event["DetailType"] == detail_type
    assert event["Source"] == infra.parameter_defaults()["PublishedEventSource"]
    assert event["Detail"]["executionArn"] == s["executionArn"]
    return event["Detail"]


def failed_and_notified(s, error_type):
    """The step's execution failed with `error_type` after one SNS notification saying so."""
    assert s["status"] == "FAILED", f"{s['name']}: {s['status']} {s.get('output')}"
    assert s["error"] == error_type, f"{s['name']}: failed with {s['error']}: {s['cause']}"
    assert s["states"][-2:] == ["NotifyFailure", "Failed"], s["states"]
    assert s["events"] == [], f"{s['name']}: a failed execution published {s['events']}"
    assert len(s["notifications"]) == 1, s["notifications"]
    notification = s["notifications"][0]
    assert notification["MessageAttributes"]["errorType"] == {"DataType": "String", "StringValue": error_type}
    assert notification["Message"].startswith(f"{'Onboarding' if s['machine'] == 'onboarding' else 'Offboarding'} execution {s['executionArn']} failed with {error_type}: ")
    assert notification["TopicArn"].startswith("arn:aws:sns:")
    return notification


# --------------------------------------------------------------------------------------
# The scenarios
# --------------------------------------------------------------------------------------


def test_every_scenario_ran(report):
    assert sorted(report["scenarios"]) == [p.stem for p in SCENARIOS]
    package = json.loads((infra.ROOT / "package.json").read_text())
    assert package["devDependencies"][ENGINE] == report["engine"], "the engine is not pinned to the installed version"


def test_every_failure_is_a_contract_error_type(report):
    # A TypeError, a States.Runtime or a Harness.* error would be the engine or the
    # harness failing, which the definitions' Catch States.ALL would turn into a
    # notification that looks like an outcome.
    known = infra.error_types()
    for s in all_steps(report):
        for failure in s["caught"]:
            if failure["kind"] == "failed":
                assert failure["error"] in known, f"{s['executionArn']}: {failure}"
        assert not s.get("engineError"), s["engineError"]


def test_joiner_then_the_same_event_again_writes_nothing(report):
    name = "01-joiner-and-redelivery"
    first = step(report, name, "joiner")
    assert first["status"] == "SUCCEEDED"
    assert first["states"] == ["ReadEventIdentity", "EventFromEnvelope", "OnboardUser", "PublishOnboarded"]
    # The envelope's time and id reach the function as the request's.
    (invocation,) = first["invocations"]
    assert invocation["function"] == "onboard-user"
    assert invocation["payload"]["occurredAt"] == "2026-11-02T09:00:00Z"
    assert invocation["payload"]["eventId"] == "wf-01-hire-dana"
    detail = only_event(first, "Employee Onboarded")
    assert detail["result"]["status"] == "created"
    assert detail["result"]["groups"]["added"] == ["Engineering", "All Staff"]
    assert first["store"]["writes"] > 0

    again = step(report, name, "redelivery")
    assert again["status"] == "SUCCEEDED"
    assert [r["status"] for r in results(again)] == ["duplicate"]
    assert only_event(again, "Employee Onboarded")["result"]["status"] == "duplicate"
    assert again["store"]["writes"] == 0 and again["store"]["total"] == 0, again["store"]

    assert scenario(report, name)["store"]["users"] == {"dana.diaz": ["All Staff", "Engineering"]}


def test_leaver_is_revoked_waits_and_is_deleted(report):
    name = "02-leaver-revoke-wait-delete"
    leaver = step(report, name, "leaver")
    assert leaver["status"] == "SUCCEEDED", leaver
    assert leaver["states"] == [
        "CheckRequestedMode",
        "ReadEventIdentity",
        "EventFromEnvelope",
        "Plan",
        "RevokeAccess",
        "DeleteAfterGrace",
        "GracePeriod",
        "DeleteUser",
        "PublishOffboarded",
    ]
    revoke, delete = leaver["invocations"]
    for invocation, mode in ((revoke, "revoke"), (delete, "delete")):
        assert invocation["function"] == "offboard-user"
        assert invocation["payload"] == {
            "occurredAt": "2026-11-20T17:00:00Z",
            "eventId": "wf-02-leave-erin",
            "userName": "erin.evans",
            "mode": mode,
        }
    assert revoke["result"]["status"] == "revoked" and revoke["result"]["removedMemberships"] == 2
    assert delete["result"]["status"] == "deleted"
    # The grace period as rendered (1 s) was waited.
    assert leaver["seconds"] >= GRACE_SECONDS
    detail = only_event(leaver, "Employee Offboarded")
    assert detail["revoked"] == revoke["result"]
    assert detail["result"] == delete["result"]
    store = scenario(report, name)["store"]
    assert "erin.evans" not in store["users"]
    assert store["groups"]["Engineering"] == [] and store["groups"]["All Staff"] == []


def test_rehire_during_the_grace_period_keeps_the_person(report):
    name = "03-rehire-during-grace"
    leaver = step(report, name, "leaver")
    rehire = step(report, name, "rehire")
    assert rehire["status"] == "SUCCEEDED"
    assert only_event(rehire, "Employee Onboarded")["result"]["groups"]["added"] == ["Platform", "All Staff"]
    assert leaver["status"] == "SUCCEEDED", leaver
    assert leaver["states"][-3:] == ["GracePeriod", "DeleteUser", "PublishOffboarded"]
    revoke, delete = leaver["invocations"]
    assert revoke["result"]["status"] == "revoked"
    assert delete["payload"]["eventId"] == "wf-03-leave-frank" and delete["payload"]["mode"] == "delete"
    # The re-hire ran while the leaver's execution waited, and ended before the delete.
    assert revoke["endedAt"] <= rehire["startedAt"] and rehire["endedAt"] <= delete["startedAt"]
    assert delete["result"]["status"] == "stale", delete
    detail = only_event(leaver, "Employee Offboarded")
    assert detail["result"]["status"] == "stale"
    # The person stays, with the re-hire's groups (and out of the leavers group).
    assert scenario(report, name)["store"]["users"]["frank.fisher"] == ["All Staff", "Platform"]


RETRYABLE = {
    "throttled": "Throttled",
    "service-unavailable": "ServiceUnavailable",
    "concurrent-modification": "ConcurrentModification",
    "offboarding-throttled": "Throttled",
}


@pytest.mark.parametrize("step_name", sorted(RETRYABLE))
def test_retryable_errors_are_retried_then_notified(report, step_name):
    error_type = RETRYABLE[step_name]
    s = step(report, "04-retryable-errors", step_name)
    task = "OnboardUser" if s["machine"] == "onboarding" else "RevokeAccess"
    (retrier,) = [r for r in definition(s["machine"])["States"][task]["Retry"] if error_type in r["ErrorEquals"]]
    attempts = 1 + retrier["MaxAttempts"]
    # Every invocation failed with the errorType, and the definition's Retry made the rest.
    assert [inv["state"] for inv in s["invocations"]] == [task] * attempts
    assert [r["errorType"] for r in results(s)] == [error_type] * attempts, results(s)
    assert [r["state"] for r in s["retries"]] == [task] * retrier["MaxAttempts"]
    assert all(r["errorEquals"] == retrier["ErrorEquals"] for r in s["retries"])
    # Each invocation sent the faulted call MAX_ATTEMPTS times, all of them failed.
    injected = sum(n for kinds in s["store"]["injected"].values() for n in kinds.values())
    assert injected == attempts * MAX_ATTEMPTS, s["store"]
    assert s["store"]["writes"] == 0, s["store"]
    notification = failed_and_notified(s, error_type)
    # The Cause is the function's error object, as Lambda reports it.
    assert json.loads(s["cause"]) == results(s)[-1]
    assert notification["Message"].endswith(s["cause"])


NON_RETRYABLE = {
    "invalid-joiner": ("InvalidEvent", "OnboardUser"),
    "invalid-leaver": ("InvalidEvent", "RevokeAccess"),
    "group-not-found": ("GroupNotFound", "OnboardUser"),
    "configuration-onboarding": ("Configuration", "OnboardUser"),
    "configuration-offboarding": ("Configuration", "RevokeAccess"),
}


@pytest.mark.parametrize("step_name", sorted(NON_RETRYABLE))
def test_non_retryable_errors_are_caught_at_once_and_notified(report, step_name):
    error_type, task = NON_RETRYABLE[step_name]
    s = step(report, "05-non-retryable-errors", step_name)
    assert [inv["state"] for inv in s["invocations"]] == [task]
    assert results(s)[0]["errorType"] == error_type, results(s)
    assert s["retries"] == []
    caught = [c for c in s["caught"] if c["kind"] == "caught"]
    assert caught == [{"state": task, "errorEquals": caught[0]["errorEquals"], "next": "NotifyFailure", "kind": "caught"}]
    assert error_type in caught[0]["errorEquals"], "caught by States.ALL, not by its own Catch"
    failed_and_notified(s, error_type)
    assert json.loads(s["cause"]) == results(s)[0]
    assert s["store"]["writes"] == 0


def test_hand_started_executions_take_the_detail_alone_or_the_envelope(report):
    name = "06-hand-started"
    detail_only = step(report, name, "onboarding-detail-only")
    assert detail_only["status"] == "SUCCEEDED"
    assert detail_only["states"][:2] == ["ReadEventIdentity", "EventFromDetail"]
    assert "occurredAt" not in detail_only["invocations"][0]["payload"]
    assert "eventId" not in detail_only["invocations"][0]["payload"]
    assert only_event(detail_only, "Employee Onboarded")["result"]["status"] == "created"

    envelope = step(report, name, "onboarding-envelope")
    assert envelope["status"] == "SUCCEEDED"
    assert envelope["states"][:2] == ["ReadEventIdentity", "EventFromEnvelope"]
    assert envelope["invocations"][0]["payload"]["eventId"] == "wf-06-move-mia"
    moved = only_event(envelope, "Employee Onboarded")["result"]
    assert moved["status"] == "updated" and moved["groups"]["added"] == ["Platform"]

    revoke_only = step(report, name, "offboarding-detail-only")
    assert revoke_only["status"] == "SUCCEEDED"
    assert revoke_only["states"] == [
        "CheckRequestedMode",
        "ReadEventIdentity",
        "EventFromDetail",
        "Plan",
        "RevokeAccess",
        "DeleteAfterGrace",
        "KeepUser",
        "PublishOffboarded",
    ]
    assert revoke_only["invocations"][0]["payload"] == {"userName": "mia.moss", "mode": "revoke"}
    detail = only_event(revoke_only, "Employee Offboarded")
    assert detail["revoked"]["status"] == "revoked" and detail["result"] == detail["revoked"]

    delete = step(report, name, "offboarding-envelope")
    assert delete["status"] == "SUCCEEDED"
    assert delete["states"][2] == "EventFromEnvelope"
    assert [inv["payload"]["mode"] for inv in delete["invocations"]] == ["revoke", "delete"]
    assert only_event(delete, "Employee Offboarded")["result"]["status"] == "deleted"
    assert "mia.moss" not in scenario(report, name)["store"]["users"]


def test_a_bad_mode_fails_before_any_call_and_notifies(report):
    s = step(report, "07-bad-mode", "bad-mode")
    assert s["states"] == ["CheckRequestedMode", "RejectMode", "NotifyFailure", "Failed"]
    assert s["invocations"] == []
    assert s["store"]["total"] == 0
    failed_and_notified(s, "InvalidEvent")
    assert s["cause"] == "invalid event: mode: unknown variant, expected `delete` or `revoke`"
