"""Operations: logs, versions, what is kept, the dashboard and the throttling alarm.

The metrics are the ones the functions write as CloudWatch Embedded Metric Format lines,
as the README's "Metrics" section documents them (namespace, dimension and names; the
Rust tests check the lines against the same list). The dashboard body is rendered as
CloudFormation will produce it, in each routing mode, from the template expanded by the
SAM transform (infra_support.expanded).
"""

import json
import re

import pytest

import infra_support as infra

FUNCTIONS = sorted(infra.functions())
README = (infra.ROOT / "README.md").read_text(encoding="utf-8")


def documented_metrics():
    """The metric names in the first column of the README's Metrics table."""
    section = README.split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    names = []
    for line in section.splitlines():
        if line.startswith("| `"):
            names += re.findall(r"`([A-Za-z]+)`", line.split("|")[1])
    assert "Namespace `Turnstile`, one dimension `FunctionName`" in " ".join(section.split()), (
        "the README's Metrics section no longer says namespace Turnstile, dimension FunctionName"
    )
    return names


METRICS = documented_metrics()


def test_the_documented_metrics_are_the_ones_emitted():
    # The list the Rust side emits (shared/src/cloudwatch); a change there changes the README.
    assert sorted(METRICS) == sorted([
        "UsersCreated", "UsersUpdated", "UsersDeleted", "MembershipsAdded", "MembershipsRemoved",
        "Throttles", "Retries", "Stale", "Duplicate", "FailedRecords",
    ])


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_lambda_keeps_its_report_lines(logical_id):
    # START, END and REPORT (duration, memory, init duration) are system logs at INFO.
    logging = infra.function_properties(logical_id)["LoggingConfig"]
    assert logging["SystemLogLevel"] == "INFO"
    assert logging["ApplicationLogLevel"] == {"Ref": "LogLevel"}


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_everything_invokes_a_published_alias(logical_id):
    alias = infra.function_properties(logical_id).get("AutoPublishAlias")
    assert alias, f"{logical_id} publishes no version behind an alias"
    for name, mapping in infra.resources("AWS::Lambda::EventSourceMapping").items():
        if infra.target_logical_id(mapping["Properties"]["FunctionName"]) == logical_id:
            assert mapping["Properties"]["FunctionName"] == {"Ref": f"{logical_id}.Alias"}, name
    # The state machines' tasks: test_state_machines.py; their roles may invoke the alias only.
    for machine, res in infra.resources("AWS::Serverless::StateMachine").items():
        for policy in res["Properties"]["Policies"]:
            for statement in policy["Statement"]:
                if statement["Action"] == "lambda:InvokeFunction":
                    assert infra.target_logical_id(statement["Resource"]) in FUNCTIONS
                    assert statement["Resource"]["Ref"].endswith(".Alias"), (machine, statement)
    # No rule invokes a function at all (test_template.py): they target queues and workflows.


def test_what_holds_audit_data_outlives_the_stack():
    kept = ["DeadLetterQueue", "LedgerTable"] + [
        infra.function_properties(f)["LoggingConfig"]["LogGroup"]["Ref"] for f in FUNCTIONS
    ]
    for name in kept:
        res = infra.resources()[name]
        assert res.get("DeletionPolicy") == "Retain" and res.get("UpdateReplacePolicy") == "Retain", name


def rendered_dashboard(mode):
    params = infra.deployment_parameters(mode)
    template = infra.expanded(params)
    renderer = infra.Renderer(template, params)
    return json.loads(renderer.render(template["Resources"]["Dashboard"]["Properties"]["DashboardBody"])), renderer


def dashboard_metrics(body):
    """(namespace, name, {dimension: value}) of every metric a widget draws."""
    out = []
    for widget in body["widgets"]:
        for line in widget.get("properties", {}).get("metrics", []):
            fields = [f for f in line if not isinstance(f, dict)]
            if not fields:
                continue  # an expression
            namespace, name, *dims = fields
            out.append((namespace, name, dict(zip(dims[::2], dims[1::2]))))
    return out


@pytest.mark.parametrize("mode", infra.routing_modes())
def test_the_dashboard_draws_every_metric_of_every_function(mode):
    body, renderer = rendered_dashboard(mode)
    metrics = dashboard_metrics(body)
    names = {f: renderer.ref(f) for f in FUNCTIONS}
    for namespace, name, dims in metrics:
        if namespace == "Turnstile":
            assert name in METRICS, f"the dashboard draws {name}, which no function writes"
            assert list(dims) == ["FunctionName"] and dims["FunctionName"] in names.values(), (name, dims)
    for logical_id, function_name in names.items():
        drawn = {name for ns, name, dims in metrics if ns == "Turnstile" and dims["FunctionName"] == function_name}
        assert drawn == set(METRICS), f"{mode}: {logical_id}: the dashboard lacks {sorted(set(METRICS) - drawn)}"
        lambda_metrics = {name for ns, name, dims in metrics if ns == "AWS/Lambda" and dims.get("FunctionName") == function_name}
        assert {"Invocations", "Errors", "Throttles", "Duration"} <= lambda_metrics, (logical_id, lambda_metrics)


@pytest.mark.parametrize("mode", infra.routing_modes())
def test_the_dashboard_shows_the_queues_that_exist(mode):
    body, renderer = rendered_dashboard(mode)
    params = infra.deployment_parameters(mode)
    queues = {
        renderer.attribute(q, "QueueName")
        for q in infra.resources("AWS::SQS::Queue")
        if infra.exists(q, params)
    }
    drawn = {dims["QueueName"] for ns, _, dims in dashboard_metrics(body) if ns == "AWS/SQS"}
    assert drawn == queues, f"{mode}: the dashboard draws queues {sorted(drawn)}, the stack has {sorted(queues)}"
    for widget in body["widgets"]:
        props = widget["properties"]
        if widget["type"] == "metric":
            assert props["region"] == infra.REGION


def test_the_throttling_alarm_sums_every_functions_identity_store_throttles():
    alarm = infra.resources()["ThrottleAlarm"]["Properties"]
    stats = [m for m in alarm["Metrics"] if "MetricStat" in m]
    counted = sorted(infra.target_logical_id(m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]) for m in stats)
    assert counted == FUNCTIONS
    for m in stats:
        metric = m["MetricStat"]["Metric"]
        assert (metric["Namespace"], metric["MetricName"]) == ("Turnstile", "Throttles")
        assert [d["Name"] for d in metric["Dimensions"]] == ["FunctionName"]
        assert m["MetricStat"]["Stat"] == "Sum" and m["ReturnData"] is False
    (expression,) = [m for m in alarm["Metrics"] if "Expression" in m]
    assert expression["ReturnData"] is True
    assert sorted(re.findall(r"FILL\((\w+), 0\)", expression["Expression"])) == sorted(m["Id"] for m in stats)
    # Sustained, not a burst: three 5-minute periods in a row above 5% of one API's quota
    # (20 calls a second, 6,000 in 5 minutes), the pacing's goal (the template's comment).
    period = {m["MetricStat"]["Period"] for m in stats}
    quota = infra.template()["Metadata"]["Turnstile"]["QuotaModel"]["IdentityStoreTpsPerApi"]
    assert period == {300}
    assert alarm["Threshold"] == 0.05 * quota * 300
    assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == 3
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    assert alarm["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize("mode", infra.routing_modes())
def test_the_dashboard_lists_every_alarm_of_the_stack(mode):
    body, renderer = rendered_dashboard(mode)
    params = infra.deployment_parameters(mode)
    alarms = {renderer.attribute(a, "Arn") for a in infra.resources("AWS::CloudWatch::Alarm") if infra.exists(a, params)}
    (widget,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert set(widget["properties"]["alarms"]) == alarms
    # The throttles graph draws the alarm's threshold.
    (graph,) = [w for w in body["widgets"] if "throttles, all functions" in w["properties"].get("title", "")]
    threshold = infra.resources()["ThrottleAlarm"]["Properties"]["Threshold"]
    assert [h["value"] for h in graph["properties"]["annotations"]["horizontal"]] == [threshold]


def test_stack_tags_reach_every_resource_unchanged():
    # The tags are the stack's (samconfig.toml `tags`, or `sam deploy --tags`), which
    # CloudFormation puts on every resource that takes tags. No resource sets its own, so
    # none carries a value other than the stack's.
    import shlex
    import tomllib

    config = tomllib.loads((infra.INFRA / "samconfig.toml").read_text(encoding="utf-8"))
    tags = dict(pair.split("=", 1) for pair in shlex.split(config["default"]["deploy"]["parameters"]["tags"]))
    assert tags == {"application": "turnstile"}
    for name, res in infra.resources().items():
        assert "Tags" not in res.get("Properties", {}), f"{name} sets its own Tags"
    assert "Tags" not in infra.template()["Globals"]["Function"]


def parameters_referred(value):
    """The template parameters `value` refers to (Ref, and ${...} in Fn::Sub)."""
    names = set(infra.template()["Parameters"])
    found = set()
    if isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and arg in names:
                found.add(arg)
            elif key == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                found |= set(re.findall(r"\$\{([A-Za-z0-9]+)\}", text)) & names
                if not isinstance(arg, str):
                    found |= parameters_referred(arg[1])
            else:
                found |= parameters_referred(arg)
    elif isinstance(value, list):
        for item in value:
            found |= parameters_referred(item)
    return found


def longest_value(parameter):
    spec = infra.template()["Parameters"][parameter]
    if "AllowedValues" in spec:
        return max(len(str(v)) for v in spec["AllowedValues"])
    if spec["Type"] == "Number":
        return max(len(str(spec["MaxValue"])), len(str(spec["MinValue"])))
    assert "MaxLength" in spec, f"{parameter} needs a MaxLength to bound a version description"
    return int(spec["MaxLength"])


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_a_parameter_change_publishes_a_new_version(logical_id):
    # SAM's version id ignores parameter values (serverless-application-model#1640): the
    # version's description carries them, so a new value replaces the version. Every
    # parameter the function's configuration refers to must be in it.
    props = infra.function_properties(logical_id)
    assert props["AutoPublishAliasAllProperties"] is True
    configured = parameters_referred({k: v for k, v in props.items() if k != "VersionDescription"})
    described = parameters_referred(props["VersionDescription"])
    assert configured == described, (
        f"{logical_id}: its configuration refers to {sorted(configured)}, its VersionDescription to {sorted(described)}"
    )
    # Lambda caps a version's description at 256 characters.
    text = props["VersionDescription"]["Fn::Sub"]
    longest = len(re.sub(r"\$\{[A-Za-z0-9]+\}", "", text)) + sum(longest_value(p) for p in described)
    assert longest <= 256, f"{logical_id}: VersionDescription may reach {longest} characters"
