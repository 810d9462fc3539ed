"""The template's wiring that the other checks take for granted."""

import re
import tomllib

import pytest

import infra_support as infra

FUNCTIONS = sorted(infra.functions())


def cargo_binaries():
    out = {}
    for manifest in sorted((infra.ROOT / "functions").glob("*/Cargo.toml")):
        for binary in tomllib.loads(manifest.read_text(encoding="utf-8")).get("bin", []):
            out[binary["name"]] = manifest.parent
    return out


def test_every_workspace_binary_is_deployed_exactly_once():
    deployed = sorted(infra.functions().values())
    assert deployed == sorted(cargo_binaries()), f"template binaries {deployed} vs Cargo binaries {sorted(cargo_binaries())}"
    described = sorted(infra.function_names())
    assert deployed == described, f"template binaries {deployed} vs the functions the code describes {described}"


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_function_build_and_runtime(logical_id):
    res = infra.resources()[logical_id]
    props = infra.function_properties(logical_id)
    assert res["Metadata"]["BuildMethod"] == "rust-cargolambda"
    assert props["Runtime"] == "provided.al2023"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == "bootstrap"
    # cargo-lambda builds in CodeUri and SAM copies target/lambda/<Binary>/bootstrap from
    # there: it must be the workspace root, where the shared target/ directory is.
    code = infra.code_uri(logical_id)
    assert code == infra.ROOT and "[workspace]" in (code / "Cargo.toml").read_text(encoding="utf-8")
    assert props["LoggingConfig"]["LogFormat"] == "JSON"
    env = props["Environment"]["Variables"]
    assert env["IDENTITY_STORE_ID"] == {"Ref": "IdentityStoreId"}
    assert isinstance(props["ReservedConcurrentExecutions"], int)
    assert 1 <= int(env["MAX_CONCURRENCY"]) <= 64
    assert 1 <= int(env["CALLS_PER_SECOND"]) <= int(env["MAX_CALLS_PER_SECOND"]) <= 20


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_function_logs_to_its_own_group_with_retention(logical_id):
    group = infra.function_properties(logical_id)["LoggingConfig"]["LogGroup"]["Ref"]
    assert infra.resources()[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionInDays"}


def test_nothing_invokes_a_function_asynchronously():
    # EventBridge drives the functions through their queues and the workflows invoke them
    # synchronously from Step Functions, so there is no asynchronous invocation to
    # configure, no resource policy to let EventBridge invoke a function, and no function
    # sends its failures anywhere itself.
    assert infra.resources("AWS::Lambda::EventInvokeConfig") == {}
    assert infra.resources("AWS::Lambda::Permission") == {}
    for logical_id in FUNCTIONS:
        assert "Events" not in infra.resources()[logical_id]["Properties"], (
            f"{logical_id}: its event sources are AWS::Lambda::EventSourceMapping resources, not SAM Events "
            "(a SAM SQS event attaches AWSLambdaSQSQueueExecutionRole, sqs actions on every queue)"
        )
        sent = [
            action
            for statement in infra.function_policy_statements(logical_id)
            for action in infra.as_list(statement["Action"])
            if action.lower() in {"sqs:sendmessage", "lambda:invokefunction", "sns:publish"}
        ]
        assert sent == [], f"{logical_id} may still send its own failures somewhere: {sent}"
    for name, rule in infra.resources("AWS::Events::Rule").items():
        for target in rule["Properties"]["Targets"]:
            kind = infra.resources()[infra.target_logical_id(target["Arn"])]["Type"]
            assert kind in {"AWS::SQS::Queue", "AWS::Serverless::StateMachine"}, (
                f"{name} targets a {kind}: a rule drives a function through its queue, or starts a workflow"
            )
    for machine in infra.state_machines():
        definition = infra.state_machines()[machine]["text"]
        assert '"InvocationType"' not in definition, f"{machine} sets an InvocationType: its Lambda tasks are synchronous"


def test_every_rule_target_has_a_dead_letter_queue_and_retry_policy():
    rules = infra.resources("AWS::Events::Rule")
    assert rules
    for name, rule in rules.items():
        assert rule["Properties"]["EventPattern"]["source"] == [{"Ref": "EventSource"}], name
        for target in rule["Properties"]["Targets"]:
            assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}, name
            assert {"MaximumRetryAttempts", "MaximumEventAgeInSeconds"} <= target["RetryPolicy"].keys(), name


def test_the_ledger_table_is_kept_recoverable_encrypted_and_expires_only_history():
    table = infra.resources()["LedgerTable"]
    assert table["Type"] == "AWS::DynamoDB::Table"
    assert table["DeletionPolicy"] == "Retain" and table["UpdateReplacePolicy"] == "Retain"
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]} == {"pk": "S", "sk": "S"}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True}
    # The attribute the functions write on event records (shared/src/jobs/ledger.rs).
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}


def _evaluate(expression, parameters):
    """Evaluates a rule assertion made of Fn::Not, Fn::Equals and Ref."""
    if isinstance(expression, dict):
        (function, argument), = expression.items()
        if function == "Ref":
            return parameters[argument]
        if function == "Fn::Not":
            return not _evaluate(argument[0], parameters)
        if function == "Fn::Equals":
            return _evaluate(argument[0], parameters) == _evaluate(argument[1], parameters)
        raise AssertionError(f"unexpected function {function}")
    return expression


def test_a_published_event_source_equal_to_the_event_source_is_refused_at_deploy_time():
    template = infra.template()
    defaults = {name: p.get("Default") for name, p in template["Parameters"].items()}
    assertions = [a["Assert"] for rule in template["Rules"].values() for a in rule["Assertions"]]

    def allowed(**overrides):
        parameters = {**defaults, **overrides}
        return all(_evaluate(a, parameters) for a in assertions)

    assert allowed()
    assert not allowed(PublishedEventSource="com.example.hr", EventSource="com.example.hr")
    assert allowed(PublishedEventSource="com.example.turnstile", EventSource="com.example.other")


def test_the_leavers_group_parameter_defaults_to_the_functions_own_default():
    # The fence is on by default in the functions and in the template, with one group.
    default = infra.description()["defaults"]["LEAVERS_GROUP"]
    assert default
    assert infra.parameter_defaults()["LeaversGroup"] == default


def test_a_leavers_group_of_only_whitespace_is_refused_at_deploy_time():
    pattern = infra.template()["Parameters"]["LeaversGroup"]["AllowedPattern"]
    # CloudFormation matches AllowedPattern against the whole value (Java regex); the
    # lookahead and classes used here read the same in Python's re.
    accepts = lambda value: re.fullmatch(pattern, value) is not None  # noqa: E731
    assert accepts("")
    assert accepts("turnstile-leavers")
    assert accepts("Leavers (revoked)")
    assert not accepts("   ")
    assert not accepts("\t")
    assert not accepts("bad\x01name")
