"""The Step Functions definitions against the contract's errorTypes (as the code
describes them: `cargo xtask describe`) and against the template that deploys them."""

import json

import pytest

import infra_support as infra

MACHINES = sorted(infra.state_machines())
LAMBDA_TRANSIENT = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}


def definition(machine):
    return json.loads(infra.rendered_definition(machine))


def lambda_tasks(machine):
    tasks = [(name, state) for name, state in infra.iter_states(definition(machine)) if infra.is_lambda_task(state)]
    assert tasks, f"{machine} invokes no Lambda function"
    return tasks


def test_there_are_state_machines():
    assert MACHINES == ["OffboardingStateMachine", "OnboardingStateMachine"]


@pytest.mark.parametrize("machine", MACHINES)
def test_every_error_name_is_an_error_type_or_a_lambda_or_states_error(machine):
    emitted = infra.error_types()
    bad = []
    for name, state in infra.iter_states(definition(machine)):
        for kind in ("Retry", "Catch"):
            for i, rule in enumerate(state.get(kind, [])):
                for error in rule["ErrorEquals"]:
                    if error not in emitted and not error.startswith(("Lambda.", "States.")):
                        bad.append(f"{name}.{kind}[{i}]: {error}")
    assert not bad, (
        "error names that no function emits (errorTypes from cargo xtask describe: "
        f"{sorted(emitted)}) and that are not Lambda./States. errors:\n  " + "\n  ".join(bad)
    )


@pytest.mark.parametrize("machine", MACHINES)
def test_every_lambda_task_retries_every_retryable_error(machine):
    retryable = infra.retryable_error_types()
    for name, state in lambda_tasks(machine):
        retried = {error for rule in state.get("Retry", []) for error in rule["ErrorEquals"]}
        missing = (retryable | LAMBDA_TRANSIENT) - retried
        assert not missing, f"{machine}.{name} does not retry {sorted(missing)}"
        for i, rule in enumerate(state["Retry"]):
            for field in ("IntervalSeconds", "BackoffRate", "MaxAttempts"):
                assert field in rule, f"{machine}.{name}.Retry[{i}] has no {field}"
            assert rule.get("JitterStrategy") == "FULL", f"{machine}.{name}.Retry[{i}] has no JitterStrategy FULL"


@pytest.mark.parametrize("machine", MACHINES)
def test_every_lambda_task_catches_the_rest_and_notifies(machine):
    states = dict(infra.iter_states(definition(machine)))
    final = infra.error_types() - infra.retryable_error_types()
    for name, state in lambda_tasks(machine):
        catches = state.get("Catch", [])
        assert catches and catches[-1]["ErrorEquals"] == ["States.ALL"], (
            f"{machine}.{name}: the last Catch must be States.ALL"
        )
        caught = {error for rule in catches for error in rule["ErrorEquals"]}
        missing = final - caught
        assert not missing, f"{machine}.{name} does not name the non-retryable errors {sorted(missing)} in a Catch"
        for rule in catches:
            notify = states[rule["Next"]]
            assert notify.get("Resource") == "arn:aws:states:::sns:publish", (
                f"{machine}.{name}: Catch {rule['ErrorEquals']} goes to {rule['Next']}, not an SNS notification"
            )
            assert states[notify["Next"]]["Type"] == "Fail", f"{machine}: {rule['Next']} is not followed by a Fail state"


@pytest.mark.parametrize("machine", MACHINES)
def test_substitutions_match_the_placeholders(machine):
    found = infra.state_machines()[machine]
    used = infra.placeholders(found["text"])
    given = set(found["substitutions"])
    assert used == given, f"{found['path'].name}: placeholders {sorted(used)} but DefinitionSubstitutions {sorted(given)}"


@pytest.mark.parametrize("machine", MACHINES)
def test_lambda_tasks_invoke_a_function_of_this_template(machine):
    substitutions = infra.state_machines()[machine]["substitutions"]
    raw = json.loads(infra.state_machines()[machine]["text"])
    for name, state in infra.iter_states(raw):
        if infra.is_lambda_task(state):
            function_name = state["Parameters"]["FunctionName"]
            key = infra.PLACEHOLDER.fullmatch(function_name)
            assert key, f"{machine}.{name}: FunctionName {function_name!r} is not a substitution"
            target = substitutions[key.group(1)]
            # The function's alias (Ref X.Alias, AutoPublishAlias): the version published
            # with the deploy, never $LATEST.
            referenced = target.get("Ref", "")
            assert referenced.endswith(".Alias") and referenced.removesuffix(".Alias") in infra.functions(), (
                f"{machine}.{name}: {key.group(1)} is {target}, not the alias of one of the template's functions"
            )
            function = referenced.removesuffix(".Alias")
            assert infra.function_properties(function).get("AutoPublishAlias"), f"{function} publishes no alias"
            # The task outlasts the function's own timeout (which the function's deadline
            # margin keeps it inside), so it cuts off only an invocation that never
            # answers, and not by more than a minute.
            timeout = state.get("TimeoutSeconds")
            function_timeout = infra.function_properties(function)["Timeout"]
            assert isinstance(timeout, int) and function_timeout < timeout <= function_timeout + 60, (
                f"{machine}.{name}: TimeoutSeconds {timeout} for a function with Timeout {function_timeout}"
            )


def test_offboarding_revokes_waits_then_deletes():
    states = dict(infra.iter_states(definition("OffboardingStateMachine")))
    modes = {
        name: state["Parameters"]["Payload.$"]
        for name, state in states.items()
        if infra.is_lambda_task(state)
    }
    assert modes == {
        "RevokeAccess": "States.JsonMerge(States.JsonMerge($.event, $.detail, false), $.plan.revoke, false)",
        "DeleteUser": "States.JsonMerge(States.JsonMerge($.event, $.detail, false), $.plan.delete, false)",
    }
    # Both calls carry the leaver event's time and id (the ledger's order), from the
    # envelope when there is one.
    assert states["EventFromEnvelope"]["Parameters"] == {"occurredAt.$": "$.time", "eventId.$": "$.id"}
    plan = states["Plan"]["Parameters"]
    assert plan["revoke"] == {"mode": "revoke"} and plan["delete"] == {"mode": "delete"}
    assert states["GracePeriod"]["Type"] == "Wait" and states["GracePeriod"]["Next"] == "DeleteUser"
    # The grace period is the template parameter, substituted as a number.
    default = infra.parameter_defaults()["OffboardingGracePeriodSeconds"]
    assert plan["graceSeconds.$"] == f"States.StringToJson('{default}')"
