"""Every IAM role the stack creates passes parliament, an independent IAM policy linter.

The roles are the ones CloudFormation will create: the template is expanded with the SAM
transform itself (aws-sam-translator, the version aws-sam-cli pins), offline, which turns
each function's and state machine's `Policies` into an AWS::IAM::Role with SAM's own
additions. Each role's inline policies are then rendered as IAM will read them: the
template's intrinsics resolved for a deployment (parameters at their defaults, in each
routing mode and with the leavers fence on and off), the template's resources given
ARNs of their real form in a dummy account, so that parliament can check each resource
against the resource types the Service Authorization Reference gives each action (its
own copy, shipped with it).

parliament reports every finding it has, the community auditors included. A finding is
allowed only when ALLOWED below names it, with why. AWS-managed policies that SAM
attaches are listed by ARN in MANAGED, with why: parliament sees only their ARNs, not
their text (it reads no network).
"""

from __future__ import annotations

import json

import parliament
import pytest

import infra_support as infra

LEAVERS_GROUP_ID = infra.DUMMY_GROUP_ID

DEPLOYMENTS = {
    "direct": {**infra.deployment_parameters("direct")},
    "workflows": {**infra.deployment_parameters("workflows")},
    "direct, fence off": {**infra.deployment_parameters("direct"), "LeaversGroup": ""},
    "direct, no group creation": {**infra.deployment_parameters("direct"), "CreateMissingGroups": "false"},
}

# (the role's owner, parliament's issue, the actions it names) -> why the finding is
# right. Nothing else may be found.
ALLOWED: dict[tuple[str, str, tuple[str, ...]], str] = {
    (machine, "PERMISSIONS_MANAGEMENT_ACTIONS", ("logs:putresourcepolicy",)): (
        "logs:PutResourcePolicy, in the set of CloudWatch Logs delivery actions that Step "
        "Functions' logging needs on the execution role (Step Functions developer guide, "
        "'IAM policies for logging to CloudWatch Logs'): the delivery writes the log "
        "group's resource policy. The logs delivery actions take no resource ARN, so "
        "Resource '*' is the narrowest (infra/README.md, 'Deliberate exceptions')."
    )
    for machine in ("OnboardingStateMachine", "OffboardingStateMachine")
}

# The AWS-managed policies SAM attaches, per kind of role, and why each is needed.
MANAGED = {
    "function": {
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": (
            "SAM attaches it to every function role: CloudWatch Logs' CreateLogGroup, "
            "CreateLogStream and PutLogEvents, without which a function writes no log."
        ),
        "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": (
            "Tracing: Active; SAM attaches it so that the function can send its trace segments."
        ),
    },
    "state machine": {
        "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": (
            "Tracing.Enabled; SAM attaches it so that the state machine can send its trace segments."
        ),
    },
}


def roles(deployment: str) -> dict[str, dict]:
    """Role logical id -> {"kind", "policies": {name: document}, "managed": [arns]} for
    every role this deployment creates."""
    params = DEPLOYMENTS[deployment]
    template = infra.expanded(params)
    renderer = infra.Renderer(template, params)
    out = {}
    for name, res in template["Resources"].items():
        if res["Type"] != "AWS::IAM::Role" or not renderer.exists(name):
            continue
        props = renderer.render(res["Properties"])
        # SAM names a function's or state machine's role after it: <LogicalId>Role.
        owner = template["Resources"].get(name.removesuffix("Role"), {}).get("Type", "")
        kind = {"AWS::Lambda::Function": "function", "AWS::StepFunctions::StateMachine": "state machine"}.get(owner, "role")
        out[name] = {
            "kind": kind,
            "policies": {p["PolicyName"]: p["PolicyDocument"] for p in props.get("Policies", [])},
            "managed": props.get("ManagedPolicyArns", []),
            "trust": props["AssumeRolePolicyDocument"],
        }
    return out


CASES = [(deployment, role) for deployment in DEPLOYMENTS for role in roles(deployment)]


def findings(document: dict) -> list[tuple[str, str, tuple[str, ...]]]:
    """(issue, detail, the actions it names) for each of parliament's findings."""
    policy = parliament.analyze_policy_string(json.dumps(document), include_community_auditors=True)
    return [
        (
            f.issue,
            json.dumps(f.detail, sort_keys=True, default=str),
            tuple(sorted((f.location or {}).get("actions", []))),
        )
        for f in policy.findings
    ]


def test_every_function_and_state_machine_has_its_role():
    # The expansion found the roles it should: one per function and state machine, and
    # EventBridge's role for the workflows.
    for deployment in DEPLOYMENTS:
        found = roles(deployment)
        for logical_id in [*infra.functions(), *infra.state_machines()]:
            assert f"{logical_id}Role" in found, f"{deployment}: no role for {logical_id} in {sorted(found)}"
        assert ("WorkflowStartRole" in found) == (DEPLOYMENTS[deployment]["RoutingMode"] == "workflows")


@pytest.mark.parametrize(("deployment", "role"), CASES, ids=[f"{d}: {r}" for d, r in CASES])
def test_parliament_finds_nothing_but_the_allowed(deployment, role):
    spec = roles(deployment)[role]
    assert spec["policies"] or spec["managed"], f"{role} has no policy"
    unexplained = []
    for name, document in spec["policies"].items():
        for issue, detail, actions in findings(document):
            if (role.removesuffix("Role"), issue, actions) not in ALLOWED:
                unexplained.append(f"{name}: {issue} {detail} {list(actions)}")
    assert unexplained == [], f"{deployment}: parliament on {role}:\n  " + "\n  ".join(unexplained)


@pytest.mark.parametrize(("deployment", "role"), CASES, ids=[f"{d}: {r}" for d, r in CASES])
def test_managed_policies_are_the_listed_ones(deployment, role):
    spec = roles(deployment)[role]
    expected = MANAGED.get(spec["kind"], {})
    assert sorted(spec["managed"]) == sorted(expected), f"{deployment}: {role} has managed policies {spec['managed']}"


def test_parliament_would_report_a_policy_it_should():
    # The same call on policies with known faults: a resource of the wrong type for the
    # action, and an unknown action. A linter that found nothing here would make the
    # test above pass for no reason.
    wrong_resource = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "identitystore:CreateGroup",
                "Resource": f"arn:aws:identitystore:::group/{LEAVERS_GROUP_ID}",
            }
        ],
    }
    assert "RESOURCE_MISMATCH" in {issue for issue, _, _ in findings(wrong_resource)}
    unknown = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "identitystore:CreateLeaver", "Resource": "*"}],
    }
    assert "UNKNOWN_ACTION" in {issue for issue, _, _ in findings(unknown)}
