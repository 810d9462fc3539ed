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

import copy
import json
import re

import boto3
import parliament
import pytest
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

import infra_support as infra

REGION = "eu-west-1"
ACCOUNT = "111122223333"
STACK = "turnstile"
# A group id of the form the Identity Store gives (its API's GroupId pattern).
LEAVERS_GROUP_ID = "9067a8f2-d031-70a6-5a4f-3e8c1f7b2a90"

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


class _NoManagedPolicyNames:
    """The template names no managed policy in `Policies`, so SAM needs no IAM lookup."""

    def load(self) -> dict:
        return {}


def expanded(params: dict) -> dict:
    """The template after the SAM transform, as CloudFormation would receive it. Local
    paths, which `sam build` and `sam deploy` replace with S3 locations, are replaced as
    they would be: the code by an S3 URI, a definition file by its content."""
    template = copy.deepcopy(infra.template())
    for res in template["Resources"].values():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::Serverless::Function":
            props["CodeUri"] = "s3://offline-check/turnstile.zip"
        if res["Type"] == "AWS::Serverless::StateMachine":
            props["Definition"] = json.loads((infra.INFRA / props.pop("DefinitionUri")).read_text(encoding="utf-8"))
    session = boto3.session.Session(region_name=REGION, aws_access_key_id="offline", aws_secret_access_key="offline")
    translator = Translator(_NoManagedPolicyNames().load(), Parser(), boto_session=session)
    return translator.translate(copy.deepcopy(template), dict(params))


class Renderer:
    """Resolves CloudFormation intrinsics for one deployment of the expanded template."""

    def __init__(self, template: dict, params: dict):
        self.template = template
        self.params = params

    def holds(self, condition: str | None) -> bool:
        return infra.condition_holds(condition, self.params)

    def exists(self, logical_id: str) -> bool:
        return self.holds(self.template["Resources"][logical_id].get("Condition"))

    def ref(self, name: str) -> str:
        pseudo = {
            "AWS::Partition": "aws",
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::StackName": STACK,
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.params:
            return str(self.params[name])
        return self.attribute(name, "Ref")

    def attribute(self, logical_id: str, attribute: str) -> str:
        res = self.template["Resources"][logical_id]
        if not self.exists(logical_id):
            raise AssertionError(f"{logical_id} is referenced but not created in this deployment")
        kind, props = res["Type"], res.get("Properties", {})
        name = f"{STACK}-{logical_id}"
        arns = {
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}",
            "AWS::SQS::Queue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}",
            "AWS::Lambda::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}",
            "AWS::StepFunctions::StateMachine": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}",
            "AWS::SNS::Topic": f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}",
            "AWS::Events::EventBus": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{name}",
            "AWS::Events::Rule": f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}",
            "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT}:role/{name}",
        }
        if kind == "AWS::Lambda::Version":
            return f"{self.attribute(props['FunctionName']['Ref'], 'Arn')}:1"
        if kind == "AWS::Lambda::Alias":
            function = self.render(props["FunctionName"])
            return f"{function}:{self.render(props['Name'])}"
        if kind == "AWS::Logs::LogGroup":
            group = self.render(props.get("LogGroupName", name))
            return group if attribute == "Ref" else f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:*"
        if kind == "AWS::IdentityStore::Group":
            return LEAVERS_GROUP_ID
        if kind == "AWS::SQS::Queue" and attribute == "Ref":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"
        if kind == "AWS::SQS::Queue" and attribute == "QueueName":
            return name
        if kind in {"AWS::Events::EventBus", "AWS::Lambda::Function", "AWS::DynamoDB::Table", "AWS::IAM::Role"} and attribute == "Ref":
            return name
        if kind in arns:
            return arns[kind]
        raise AssertionError(f"no rendering for {kind}.{attribute} ({logical_id})")

    def render(self, value):
        if isinstance(value, list):
            return [v for v in (self.render(v) for v in value) if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return _NO_VALUE if arg == "AWS::NoValue" else self.ref(arg)
            if key == "Fn::GetAtt":
                logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.attribute(logical, attribute)
            if key == "Fn::If":
                condition, when_true, when_false = arg
                return self.render(when_true if self.holds(condition) else when_false)
            if key == "Fn::Join":
                separator, parts = arg
                return separator.join(str(p) for p in self.render(parts))
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else arg
                variables = {k: self.render(v) for k, v in variables.items()}

                def substitute(match):
                    name = match.group(1)
                    if name in variables:
                        return str(variables[name])
                    if "." in name and not name.startswith("AWS::"):
                        logical, attribute = name.split(".", 1)
                        return self.attribute(logical, attribute)
                    return self.ref(name)

                return re.sub(r"\$\{([A-Za-z0-9_.:]+)\}", substitute, text)
            if key.startswith("Fn::"):
                raise AssertionError(f"no rendering for {key}")
        out = {}
        for k, v in value.items():
            rendered = self.render(v)
            if rendered is not _NO_VALUE:
                out[k] = rendered
        return out


_NO_VALUE = object()


def roles(deployment: str) -> dict[str, dict]:
    """Role logical id -> {"kind", "policies": {name: document}, "managed": [arns]} for
    every role this deployment creates."""
    params = DEPLOYMENTS[deployment]
    template = expanded(params)
    renderer = Renderer(template, params)
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
