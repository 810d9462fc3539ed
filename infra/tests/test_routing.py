"""The template's EventBridge rules route the example events (events/*.envelope.json) to
the intended function, checked with moto's EventBridge pattern matching.

Each rule of the routing mode under test is created on a bus in moto with its pattern
as the template gives it (parameters at their defaults), and each target is replaced by
an SQS queue in moto: for a function's queue, a queue like it; for a workflow, a queue
standing for it. Each example event is put on the bus; it must land in exactly one
queue, the one of the function (or of the workflow that runs the function) it is for, as
the EventBridge event the function's queue delivers (test_queues.py checks the rest of
the wiring: queue, mapping, function).
"""

import copy
import json

import boto3
import pytest
from botocore.config import Config

import infra_support as infra

REGION = "eu-west-1"
EXAMPLES = sorted((infra.ROOT / "events").glob("*.envelope.json"))
FOREIGN_SOURCE = "com.example.not-hr"


def example_cases():
    cases = []
    for path in EXAMPLES:
        event = json.loads(path.read_text(encoding="utf-8"))
        binary = path.name.removesuffix(".envelope.json")
        cases.append((path.name, event, binary))
        if event["detail-type"] == "Employee Hired":
            updated = copy.deepcopy(event)
            updated["detail-type"] = "Employee Updated"
            cases.append((f"{path.name} as Employee Updated", updated, binary))
    return cases


def clients(endpoint):
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    config = Config(proxies={}, retries={"max_attempts": 1})
    return session.client("events", endpoint_url=endpoint, config=config), session.client(
        "sqs", endpoint_url=endpoint, config=config
    )


@pytest.fixture(params=["direct", "workflows"])
def routed_bus(request, moto_endpoint):
    """The rules of one routing mode on a fresh bus: (events, sqs, bus, {queue url: binaries})."""
    mode = request.param
    events, sqs = clients(moto_endpoint)
    params = infra.deployment_parameters(mode)
    bus = f"turnstile-{mode}"
    events.create_event_bus(Name=bus)
    queues = {}
    rules = {
        name: rule
        for name, rule in infra.resources("AWS::Events::Rule").items()
        if infra.condition_holds(rule.get("Condition"), params)
    }
    assert rules, f"no rule in routing mode {mode}"
    for name, rule in rules.items():
        props = rule["Properties"]
        pattern = infra.resolve(props["EventPattern"], params)
        events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(pattern), State="ENABLED")
        targets = []
        for target in props["Targets"]:
            logical = infra.target_logical_id(target["Arn"])
            url = sqs.create_queue(QueueName=f"{mode}-{name}-{logical}")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            queues[url] = (f"{name} -> {logical}", infra.binaries_reached(logical))
            targets.append({"Id": target["Id"], "Arn": arn})
        events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
    yield events, sqs, bus, queues
    for name in rules:
        events.remove_targets(Rule=name, EventBusName=bus, Ids=[t["Id"] for t in rules[name]["Properties"]["Targets"]])
        events.delete_rule(Name=name, EventBusName=bus)
    events.delete_event_bus(Name=bus)
    for url in queues:
        sqs.delete_queue(QueueUrl=url)


def deliver(routed_bus, event):
    """Puts `event` on the bus; returns [(target, binaries, received event)] per message."""
    events, sqs, bus, queues = routed_bus
    answer = events.put_events(
        Entries=[
            {
                "EventBusName": bus,
                "Source": event["source"],
                "DetailType": event["detail-type"],
                "Detail": json.dumps(event["detail"]),
            }
        ]
    )
    assert answer["FailedEntryCount"] == 0, answer
    received = []
    for url, (target, binaries) in queues.items():
        while True:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
            if not messages:
                break
            for message in messages:
                received.append((target, binaries, json.loads(message["Body"])))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return received


def routed_detail_types():
    """Every detail-type a rule of the template matches, in any routing mode."""
    out = set()
    for rule in infra.resources("AWS::Events::Rule").values():
        out |= set(rule["Properties"]["EventPattern"].get("detail-type", []))
    return out


def test_there_are_examples_for_every_function():
    # One example envelope per function, named after its binary: the functions the
    # template deploys, which are the ones the code describes (test_template.py).
    examples = sorted(path.name.removesuffix(".envelope.json") for path in EXAMPLES)
    deployed = sorted(infra.functions().values())
    assert examples == deployed, f"example envelopes for {examples}, but the template deploys {deployed}"
    # With the Employee Updated variant of the joiner, the cases cover every detail-type
    # the rules route.
    cases = {event["detail-type"] for _, event, _ in example_cases()}
    assert cases == routed_detail_types(), (
        f"the example cases send {sorted(cases)}, the rules route {sorted(routed_detail_types())}"
    )


@pytest.mark.parametrize(("name", "event", "binary"), example_cases(), ids=[c[0] for c in example_cases()])
def test_each_example_reaches_exactly_its_function(routed_bus, name, event, binary):
    received = deliver(routed_bus, event)
    assert len(received) == 1, f"{name} was delivered {len(received)} times: {[(t, b) for t, b, _ in received]}"
    target, binaries, delivered = received[0]
    assert binaries == {binary}, f"{name} went to {target}, which runs {sorted(binaries)}, not {binary}"
    assert delivered["detail-type"] == event["detail-type"]
    assert delivered["detail"] == event["detail"]


@pytest.mark.parametrize(("name", "event", "binary"), example_cases(), ids=[c[0] for c in example_cases()])
def test_a_foreign_source_reaches_nothing(routed_bus, name, event, binary):
    foreign = {**event, "source": FOREIGN_SOURCE}
    received = deliver(routed_bus, foreign)
    assert received == [], f"{name} with source {FOREIGN_SOURCE} reached {[t for t, _, _ in received]}"


def test_an_unknown_detail_type_reaches_nothing(routed_bus):
    event = json.loads(EXAMPLES[0].read_text(encoding="utf-8"))
    event["detail-type"] = "Employee Promoted"
    assert deliver(routed_bus, event) == []
