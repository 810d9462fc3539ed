"""The template's EventBridge rules route the example events (events/*.envelope.json) to
the intended function, checked with moto's EventBridge pattern matching.

Each rule of the routing mode under test is created on a bus in moto with its pattern
as the template gives it (parameters at their defaults), and each target is replaced by
an SQS queue in moto: for a function's queue, a queue like it; for a workflow, a queue
standing for it. Each example event is put on the bus; it must land in exactly one
queue, the one of the function (or of the workflow that runs the function) it is for, as
the EventBridge event the function's queue delivers (test_queues.py checks the rest of
the wiring: queue, mapping, function).

The matching is moto's EventBridge implementation (its events backend), not a matcher
written here. Besides the examples, the cases are the ones a pattern could get wrong:
extra fields in the detail and in the envelope (they must not stop a match), a source or
detail-type that differs from a routed one only in case, by a prefix or a suffix (they
must not match), and the events the workflows publish themselves (Employee Onboarded,
Employee Offboarded, read from the state machines as deployed), which must come back into
no rule, even with the HR source that the template's rule refuses for them.
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
                "Resources": event.get("resources", []),
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


def published_entries():
    """(state machine, Source, DetailType, Detail) of every PutEvents entry the workflows
    send, from the definitions as deployed (DefinitionSubstitutions at the defaults). The
    detail stands for the real one: the fields the definition names, with sample values."""
    out = []
    for logical_id in sorted(infra.state_machines()):
        definition = json.loads(infra.rendered_definition(logical_id))
        for state_name, state in infra.iter_states(definition):
            if state.get("Resource") != "arn:aws:states:::events:putEvents":
                continue
            for entry in state["Parameters"]["Entries"]:
                detail = {key.removesuffix(".$"): {"status": "sample"} for key in entry["Detail"]}
                out.append((f"{logical_id}/{state_name}", entry["Source"], entry["DetailType"], detail))
    return out


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


def delivered_once(routed_bus, event, binary, name):
    """The one delivery of `event`, checked to have reached `binary`'s function alone."""
    received = deliver(routed_bus, event)
    assert len(received) == 1, f"{name} was delivered {len(received)} times: {[(t, b) for t, b, _ in received]}"
    target, binaries, delivered = received[0]
    assert binaries == {binary}, f"{name} went to {target}, which runs {sorted(binaries)}, not {binary}"
    return delivered


@pytest.mark.parametrize(("name", "event", "binary"), example_cases(), ids=[c[0] for c in example_cases()])
def test_each_example_reaches_exactly_its_function(routed_bus, name, event, binary):
    delivered = delivered_once(routed_bus, event, binary, name)
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


def test_the_workflows_publish_events_the_cases_below_cover():
    # Both workflows announce their outcome; if one stopped publishing, or published
    # under another name, the no-loop test below would silently test less.
    published = {detail_type for _, _, detail_type, _ in published_entries()}
    assert published == {"Employee Onboarded", "Employee Offboarded"}, published
    sources = {source for _, source, _, _ in published_entries()}
    assert sources == {infra.parameter_defaults()["PublishedEventSource"]}, sources


@pytest.mark.parametrize(
    ("state", "source", "detail_type", "detail"), published_entries(), ids=[e[0] for e in published_entries()]
)
def test_the_workflows_own_events_come_back_into_no_rule(routed_bus, state, source, detail_type, detail):
    event = {"source": source, "detail-type": detail_type, "detail": detail}
    received = deliver(routed_bus, event)
    assert received == [], f"{detail_type} published by {state} started {[t for t, _, _ in received]}"
    # Even with the HR source, which the template's rule refuses as PublishedEventSource,
    # the detail-type alone keeps the announcement out of every rule.
    hr = {**event, "source": infra.parameter_defaults()["EventSource"]}
    received = deliver(routed_bus, hr)
    assert received == [], f"{detail_type} with the HR source started {[t for t, _, _ in received]}"


def with_extra_fields(event):
    """The event with fields no rule names: unknown detail fields at the top and nested
    (the contract ignores them), and resources in the envelope."""
    extended = copy.deepcopy(event)
    extended["detail"]["hrSystemRevision"] = 7
    extended["detail"]["source"] = "com.example.not-hr"
    for value in extended["detail"].values():
        if isinstance(value, dict):
            value["extra"] = {"nested": True}
    extended["resources"] = ["arn:aws:example:eu-west-1:111122223333:employee/4711"]
    return extended


@pytest.mark.parametrize(("name", "event", "binary"), example_cases(), ids=[c[0] for c in example_cases()])
def test_extra_fields_do_not_stop_a_match(routed_bus, name, event, binary):
    extended = with_extra_fields(event)
    delivered = delivered_once(routed_bus, extended, binary, f"{name} with extra fields")
    assert delivered["detail"] == extended["detail"]
    assert delivered["resources"] == extended["resources"]


def near_misses(value):
    """Strings that a sloppy pattern (prefix, suffix, case-insensitive) would match."""
    variants = [value.lower(), value.upper(), f"{value} ", f" {value}", f"{value}.test", f"{value}s", value[:-1]]
    return [v for v in dict.fromkeys(variants) if v != value]


def test_near_misses_of_a_routed_detail_type_or_source_reach_nothing(routed_bus):
    # One test per routing mode (the fixture's parameter) over all the near misses, which
    # share one bus: a miss that reached a queue is reported with what it reached.
    leaks = []
    for _, event, _ in example_cases():
        variants = [{**event, "detail-type": d} for d in near_misses(event["detail-type"])]
        variants += [{**event, "source": s} for s in near_misses(event["source"])]
        for variant in variants:
            received = deliver(routed_bus, variant)
            if received:
                leaks.append((variant["source"], variant["detail-type"], [t for t, _, _ in received]))
    assert leaks == [], f"near misses that a rule matched: {leaks}"
