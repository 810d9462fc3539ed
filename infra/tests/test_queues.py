"""The queues between EventBridge and the functions, and the one dead-letter queue.

Each function that EventBridge drives reads its own SQS queue through an event source
mapping with partial batch responses; the rule targets the queue and only that rule may
send to it; a message that fails 5 times moves to the one dead-letter queue, which
outlives it; each queue has an age alarm. All of it is read from the template, in both
routing modes where a resource exists in one only.
"""

import pytest

import infra_support as infra

DEAD_LETTER_QUEUE = "DeadLetterQueue"
ALARM_TOPIC = {"Ref": "AlarmTopic"}
MODES = infra.routing_modes()


def source_queues():
    """Every queue but the dead-letter queue."""
    return sorted(name for name in infra.resources("AWS::SQS::Queue") if name != DEAD_LETTER_QUEUE)


def mapping_of(queue):
    mappings = [m for m in infra.event_source_mappings().values() if m["queue"] == queue]
    assert len(mappings) == 1, f"{queue} is read by {len(mappings)} event source mappings, not one"
    return mappings[0]


def rules_targeting(queue):
    return {
        name: rule
        for name, rule in infra.resources("AWS::Events::Rule").items()
        for target in rule["Properties"]["Targets"]
        if infra.target_logical_id(target["Arn"]) == queue
    }


def condition(logical_id):
    return infra.resources()[logical_id].get("Condition")


def arn(logical_id):
    return {"Fn::GetAtt": [logical_id, "Arn"]}


SOURCE_QUEUES = source_queues()


def test_there_is_a_queue_for_every_function_and_one_dead_letter_queue():
    assert DEAD_LETTER_QUEUE in infra.resources("AWS::SQS::Queue")
    read = sorted(mapping_of(queue)["function"] for queue in SOURCE_QUEUES)
    assert read == sorted(infra.functions()), f"the queues drive {read}, the template deploys {sorted(infra.functions())}"
    assert all(m["queue"] in SOURCE_QUEUES for m in infra.event_source_mappings().values())


@pytest.mark.parametrize("mode", MODES)
def test_every_function_a_rule_drives_directly_is_driven_through_its_queue(mode):
    params = infra.deployment_parameters(mode)
    reached = set()
    for name, rule in infra.resources("AWS::Events::Rule").items():
        if not infra.exists(name, params):
            continue
        for target in rule["Properties"]["Targets"]:
            logical = infra.target_logical_id(target["Arn"])
            assert infra.exists(logical, params), f"{mode}: {name} targets {logical}, which this mode does not create"
            reached |= infra.binaries_reached(logical)
            if infra.resources()[logical]["Type"] == "AWS::SQS::Queue":
                assert infra.exists(mapping_of(logical)["function"], params)
    # Every function runs in every mode: through its queue, or (onboard-user and
    # offboard-user in workflows mode) through a state machine.
    assert reached == set(infra.functions().values()), f"{mode}: the rules reach {sorted(reached)}"


@pytest.mark.parametrize("queue", SOURCE_QUEUES)
def test_a_queue_its_rule_its_mapping_its_policy_and_its_alarm_exist_together(queue):
    rules = rules_targeting(queue)
    assert len(rules) == 1, f"{queue} is the target of {sorted(rules)}, not of one rule"
    (rule,) = rules
    mapping = mapping_of(queue)
    policies = [name for name, res in infra.resources("AWS::SQS::QueuePolicy").items() if res["Properties"]["Queues"] == [{"Ref": queue}]]
    alarms = age_alarms(queue)
    assert len(policies) == 1 and len(alarms) == 1, f"{queue}: queue policies {policies}, age alarms {alarms}"
    together = {
        queue: condition(queue),
        rule: condition(rule),
        "its event source mapping": mapping["condition"],
        policies[0]: condition(policies[0]),
        alarms[0]: condition(alarms[0]),
    }
    assert len(set(together.values())) == 1, f"{queue}'s resources exist under different conditions: {together}"


@pytest.mark.parametrize("queue", SOURCE_QUEUES)
def test_only_its_rule_may_send_to_a_queue(queue):
    (rule,) = rules_targeting(queue)
    (policy,) = [res for res in infra.resources("AWS::SQS::QueuePolicy").values() if res["Properties"]["Queues"] == [{"Ref": queue}]]
    statements = infra.as_list(policy["Properties"]["PolicyDocument"]["Statement"])
    assert statements == [
        {
            "Sid": statements[0].get("Sid"),
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": arn(queue),
            "Condition": {"ArnEquals": {"aws:SourceArn": arn(rule)}},
        }
    ], f"{queue}'s policy must let {rule} alone send to it, and nothing else: {statements}"


@pytest.mark.parametrize("queue", SOURCE_QUEUES)
def test_a_queue_hides_a_received_message_for_six_times_its_functions_timeout(queue):
    # AWS's advice for a Lambda event source: room for Lambda to retry a throttled batch.
    function = mapping_of(queue)["function"]
    timeout = infra.function_properties(function)["Timeout"]
    visibility = infra.resources()[queue]["Properties"]["VisibilityTimeout"]
    assert visibility >= 6 * timeout, f"{queue}: VisibilityTimeout {visibility} s is below 6 x {function}'s Timeout {timeout} s"


@pytest.mark.parametrize("queue", SOURCE_QUEUES)
def test_a_queue_moves_a_message_to_the_one_dead_letter_queue_after_five_receives(queue):
    assert infra.resources()[queue]["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": arn(DEAD_LETTER_QUEUE),
        "maxReceiveCount": 5,
    }


def test_the_dead_letter_queue_outlives_every_source_queue():
    # For standard queues a message's age in the dead-letter queue counts from its
    # original enqueue: with a shorter or equal retention, a message moved there late
    # would expire at once.
    kept = infra.resources()[DEAD_LETTER_QUEUE]["Properties"]["MessageRetentionPeriod"]
    assert kept == 1209600, "the dead-letter queue keeps its messages the SQS maximum, 14 days"
    for queue in SOURCE_QUEUES:
        source = infra.resources()[queue]["Properties"]["MessageRetentionPeriod"]
        assert source < kept, f"{queue} keeps messages {source} s, not less than the dead-letter queue's {kept} s"


def test_every_queue_is_encrypted_at_rest():
    for name, queue in infra.resources("AWS::SQS::Queue").items():
        assert queue["Properties"].get("SqsManagedSseEnabled") is True, f"{name} holds HR events unencrypted"


@pytest.mark.parametrize("queue", SOURCE_QUEUES)
def test_every_mapping_reports_failed_records_and_is_enabled(queue):
    mapping = mapping_of(queue)
    props = mapping["properties"]
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"], (
        f"{queue}: without ReportBatchItemFailures one failed record sends the whole batch back"
    )
    assert props["Enabled"] is True
    assert 1 <= props["BatchSize"] <= 10, f"{queue}: BatchSize {props['BatchSize']}"
    assert props["ScalingConfig"]["MaximumConcurrency"] >= 2, "SQS's smallest MaximumConcurrency is 2"


def test_a_roster_is_synced_alone_and_a_leaver_is_never_held_back_by_a_batching_window():
    by_function = {m["function"]: m["properties"] for m in infra.event_source_mappings().values()}
    # A roster may take the whole 900 s timeout, which a batch would share.
    assert by_function["SyncGroupFunction"]["BatchSize"] == 1
    assert by_function["SyncGroupFunction"]["MaximumBatchingWindowInSeconds"] == 0
    assert by_function["OffboardFunction"]["MaximumBatchingWindowInSeconds"] == 0


def age_alarms(queue):
    return sorted(
        name
        for name, alarm in infra.resources("AWS::CloudWatch::Alarm").items()
        if alarm["Properties"].get("Namespace") == "AWS/SQS"
        and alarm["Properties"].get("MetricName") == "ApproximateAgeOfOldestMessage"
        and alarm["Properties"]["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]
    )


@pytest.mark.parametrize("queue", [*SOURCE_QUEUES, DEAD_LETTER_QUEUE])
def test_every_queue_has_an_age_alarm_that_notifies_the_alarm_topic(queue):
    alarms = age_alarms(queue)
    assert len(alarms) == 1, f"{queue} has age alarms {alarms}, not one"
    props = infra.resources()[alarms[0]]["Properties"]
    assert props["AlarmActions"] == [ALARM_TOPIC]
    assert props["Statistic"] == "Maximum" and props["ComparisonOperator"] == "GreaterThanThreshold"
    assert props["TreatMissingData"] == "notBreaching"
    # A threshold below the visibility timeout alarms on any message that failed once;
    # above it, on one that failed at least twice.
    assert 0 < props["Threshold"] <= 86400
    assert condition(alarms[0]) == condition(queue)


def test_a_message_in_the_dead_letter_queue_alarms_at_once():
    depth = [
        alarm["Properties"]
        for alarm in infra.resources("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and alarm["Properties"]["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [DEAD_LETTER_QUEUE, "QueueName"]}}]
    ]
    assert len(depth) == 1
    assert depth[0]["Threshold"] == 1 and depth[0]["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert depth[0]["AlarmActions"] == [ALARM_TOPIC]


def test_only_eventbridge_rules_of_this_stack_may_send_to_the_dead_letter_queue():
    (policy,) = [
        res["Properties"]["PolicyDocument"]
        for res in infra.resources("AWS::SQS::QueuePolicy").values()
        if res["Properties"]["Queues"] == [{"Ref": DEAD_LETTER_QUEUE}]
    ]
    (statement,) = infra.as_list(policy["Statement"])
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage" and statement["Resource"] == arn(DEAD_LETTER_QUEUE)
    for mode in MODES:
        params = infra.deployment_parameters(mode)
        refs = {(name, "Arn"): name for name in infra.resources("AWS::Events::Rule")}
        allowed = set(infra.resolve(statement["Condition"]["ArnEquals"]["aws:SourceArn"], params, refs))
        rules = {name for name in infra.resources("AWS::Events::Rule") if infra.exists(name, params)}
        assert allowed == rules, f"{mode}: the dead-letter queue accepts {sorted(allowed)}, the rules are {sorted(rules)}"


@pytest.mark.parametrize("queue", [*SOURCE_QUEUES, DEAD_LETTER_QUEUE])
def test_the_outputs_give_every_queues_url_and_arn(queue):
    outputs = infra.template()["Outputs"]
    url = [o for o in outputs.values() if o["Value"] == {"Ref": queue}]
    arns = [o for o in outputs.values() if o["Value"] == arn(queue)]
    assert len(url) == 1 and len(arns) == 1, f"{queue}: {len(url)} URL and {len(arns)} ARN outputs"
    assert url[0].get("Condition") == arns[0].get("Condition") == condition(queue)
