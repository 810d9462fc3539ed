"""Reads the infrastructure (template, state machines) and the Rust code it must agree with.

The template and the state machines are read from their files. The Rust code is not read
as source: it describes itself. `cargo xtask describe` (xtask/src/main.rs) prints the
functions (binary names and the Identity Store operations each one sends) and the
contract's errorTypes (with whether each is retryable) from the domain crate's own tables,
and `cargo metadata` / `cargo tree` give the packages, targets and the dependency graph.
A change to the code, the contract or the template that is not carried through to the
others fails the checks.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any, Iterator

import yaml

INFRA = Path(__file__).resolve().parent.parent
ROOT = INFRA.parent
TEMPLATE = INFRA / "template.yaml"

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"


# --------------------------------------------------------------------------------------
# The SAM template
# --------------------------------------------------------------------------------------


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that reads CloudFormation's short-form intrinsics (!Ref, !Sub, ...)."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


@cache
def template() -> dict:
    with TEMPLATE.open(encoding="utf-8") as f:
        return yaml.load(f, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass


def resources(kind: str | None = None) -> dict[str, dict]:
    return {
        name: res
        for name, res in template()["Resources"].items()
        if kind is None or res["Type"] == kind
    }


def parameter_defaults() -> dict[str, Any]:
    return {
        name: p.get("Default")
        for name, p in template()["Parameters"].items()
    }


def routing_modes() -> list[str]:
    """The RoutingMode parameter's allowed values."""
    return list(template()["Parameters"]["RoutingMode"]["AllowedValues"])


def deployment_parameters(mode: str) -> dict[str, Any]:
    """The parameters of a deployment in routing mode `mode`, the others at their
    defaults (and an identity store id, which has none)."""
    return {**parameter_defaults(), "IdentityStoreId": "d-1234567890", "RoutingMode": mode}


def exists(logical_id: str, params: dict[str, Any]) -> bool:
    """Whether the resource `logical_id` is created with `params` (its Condition)."""
    return condition_holds(resources()[logical_id].get("Condition"), params)


def function_properties(logical_id: str) -> dict:
    """A SAM function's properties with the template's Globals merged in (maps merge,
    local values win), as SAM does."""
    merged = _merge(template().get("Globals", {}).get("Function", {}), resources()[logical_id]["Properties"])
    return merged


def _merge(global_value: Any, local_value: Any) -> Any:
    if isinstance(global_value, dict) and isinstance(local_value, dict):
        if any(k == "Ref" or k.startswith("Fn::") for k in {**global_value, **local_value}):
            return local_value
        out = dict(global_value)
        for key, value in local_value.items():
            out[key] = _merge(out[key], value) if key in out else value
        return out
    return local_value


def functions() -> dict[str, str]:
    """Logical id -> the Cargo binary its build selects."""
    out = {}
    for name, res in resources("AWS::Serverless::Function").items():
        out[name] = res["Metadata"]["BuildProperties"]["Binary"]
    return out


def code_uri(logical_id: str) -> Path:
    """The directory a function is built in: its CodeUri, relative to infra/."""
    return (INFRA / function_properties(logical_id)["CodeUri"]).resolve()


def condition_holds(name: str | None, params: dict[str, Any]) -> bool:
    if name is None:
        return True
    return bool(_eval_condition(template()["Conditions"][name], params))


def _eval_condition(expr: Any, params: dict[str, Any]) -> Any:
    if isinstance(expr, dict):
        ((key, value),) = expr.items()
        if key == "Ref":
            if value not in params:
                raise KeyError(f"condition refers to unknown parameter {value}")
            return params[value]
        if key == "Condition":
            return condition_holds(value, params)
        if key == "Fn::Equals":
            left, right = (_eval_condition(v, params) for v in value)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not _eval_condition(value[0], params)
        if key == "Fn::And":
            return all(_eval_condition(v, params) for v in value)
        if key == "Fn::Or":
            return any(_eval_condition(v, params) for v in value)
        raise ValueError(f"unsupported condition function {key}")
    return expr


def resolve(value: Any, params: dict[str, Any], refs: dict[str, Any] | None = None) -> Any:
    """Resolves intrinsics in `value`: parameters from `params`, resources from `refs`
    (logical id -> what Ref/GetAtt should give), Fn::If through the conditions."""
    refs = refs or {}
    if isinstance(value, list):
        return [resolve(v, params, refs) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            if arg in params:
                return params[arg]
            if arg in refs:
                return refs[arg]
            raise KeyError(f"cannot resolve Ref {arg}")
        if key == "Fn::GetAtt":
            logical, attribute = arg
            if (logical, attribute) in refs:
                return refs[(logical, attribute)]
            raise KeyError(f"cannot resolve GetAtt {logical}.{attribute}")
        if key == "Fn::If":
            condition, when_true, when_false = arg
            return resolve(when_true if condition_holds(condition, params) else when_false, params, refs)
        if key.startswith("Fn::"):
            raise ValueError(f"unsupported intrinsic {key}")
    return {k: resolve(v, params, refs) for k, v in value.items()}


def target_logical_id(arn_expr: Any) -> str:
    """The resource a rule target's Arn (or a mapping's FunctionName) points at: GetAtt
    X.Arn, Ref X, or Ref X.Alias (a SAM function's AutoPublishAlias)."""
    if isinstance(arn_expr, dict) and "Fn::GetAtt" in arn_expr:
        return arn_expr["Fn::GetAtt"][0]
    if isinstance(arn_expr, dict) and "Ref" in arn_expr:
        return arn_expr["Ref"].removesuffix(".Alias")
    raise ValueError(f"rule target Arn {arn_expr!r} is not a reference to a resource in the template")


def event_source_mappings() -> dict[str, dict]:
    """Logical id -> {"function", "queue", "condition", "properties"} for every event
    source mapping: the AWS::Lambda::EventSourceMapping resources, and any SAM `Events`
    entry of Type SQS (id "<function>.<event>", the function's condition)."""
    out = {}
    for name, res in resources("AWS::Lambda::EventSourceMapping").items():
        props = res["Properties"]
        out[name] = {
            "function": target_logical_id(props["FunctionName"]),
            "queue": target_logical_id(props["EventSourceArn"]),
            "condition": res.get("Condition"),
            "properties": props,
        }
    for function, res in resources("AWS::Serverless::Function").items():
        for event, spec in res["Properties"].get("Events", {}).items():
            if spec["Type"] == "SQS":
                out[f"{function}.{event}"] = {
                    "function": function,
                    "queue": target_logical_id(spec["Properties"]["Queue"]),
                    "condition": res.get("Condition"),
                    "properties": spec["Properties"],
                }
    return out


def binaries_reached(logical_id: str) -> set[str]:
    """The function binaries a rule target ends up running: the function itself, the
    functions whose event source mappings read a queue, or the functions a state machine
    invokes (through its DefinitionSubstitutions)."""
    res = resources()[logical_id]
    if res["Type"] == "AWS::Serverless::Function":
        return {functions()[logical_id]}
    if res["Type"] == "AWS::SQS::Queue":
        return {functions()[m["function"]] for m in event_source_mappings().values() if m["queue"] == logical_id}
    if res["Type"] == "AWS::Serverless::StateMachine":
        out = set()
        for value in res["Properties"].get("DefinitionSubstitutions", {}).values():
            if isinstance(value, dict) and ("Fn::GetAtt" in value or "Ref" in value):
                referenced = target_logical_id(value)
                if referenced in functions():
                    out.add(functions()[referenced])
        return out
    raise ValueError(f"{logical_id} is a {res['Type']}, not a function or state machine")


NO_VALUE = {"Ref": "AWS::NoValue"}


def function_policy_statements(logical_id: str, params: dict[str, Any] | None = None) -> list[dict]:
    """The statements of a function's inline policies. A statement may be an Fn::If of
    a statement and AWS::NoValue (one that exists in one routing mode only): with
    `params`, the branch those parameters choose; without, every branch that is a
    statement (what any deployment may be given)."""
    statements = []
    for policy in function_properties(logical_id).get("Policies", []):
        if not isinstance(policy, dict) or "Statement" not in policy:
            raise AssertionError(
                f"{logical_id}: only inline policy documents are allowed (found {policy!r}), "
                "so that the test can see every permission"
            )
        body = policy["Statement"]
        for statement in body if isinstance(body, list) else [body]:
            for chosen in _statement_branches(statement, params):
                if chosen != NO_VALUE:
                    statements.append(chosen)
    return statements


def _statement_branches(statement: Any, params: dict[str, Any] | None) -> list[Any]:
    if isinstance(statement, dict) and set(statement) == {"Fn::If"}:
        condition, when_true, when_false = statement["Fn::If"]
        if params is None:
            return _statement_branches(when_true, None) + _statement_branches(when_false, None)
        chosen = when_true if condition_holds(condition, params) else when_false
        return _statement_branches(chosen, params)
    return [statement]


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


# --------------------------------------------------------------------------------------
# State machines
# --------------------------------------------------------------------------------------

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.:]+)\}")


def state_machines() -> dict[str, dict]:
    """Logical id -> {"path", "text", "substitutions"} for every state machine."""
    out = {}
    for name, res in resources("AWS::Serverless::StateMachine").items():
        props = res["Properties"]
        path = (INFRA / props["DefinitionUri"]).resolve()
        out[name] = {
            "path": path,
            "text": path.read_text(encoding="utf-8"),
            "substitutions": props.get("DefinitionSubstitutions", {}),
        }
    return out


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def iter_states(definition: dict, prefix: str = "") -> Iterator[tuple[str, dict]]:
    """Every state, nested ones (Parallel branches, Map processors) included."""
    for name, state in definition.get("States", {}).items():
        path = f"{prefix}{name}"
        yield path, state
        for i, branch in enumerate(state.get("Branches", [])):
            yield from iter_states(branch, f"{path}/branch{i}/")
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                yield from iter_states(state[key], f"{path}/{key}/")


def is_lambda_task(state: dict) -> bool:
    resource = state.get("Resource", "")
    return state.get("Type") == "Task" and (
        resource.startswith(LAMBDA_INVOKE) or ":lambda:" in resource and ":function:" in resource
    )


def _dummy_value(logical_id: str, attribute: str | None) -> str:
    kind = resources()[logical_id]["Type"]
    if kind == "AWS::Serverless::Function":
        return f"arn:aws:lambda:eu-west-1:111122223333:function:turnstile-{functions()[logical_id]}"
    if kind == "AWS::SNS::Topic":
        return f"arn:aws:sns:eu-west-1:111122223333:turnstile-{logical_id}"
    if kind == "AWS::Events::EventBus":
        if attribute == "Arn":
            return f"arn:aws:events:eu-west-1:111122223333:event-bus/turnstile-{logical_id}"
        return f"turnstile-{logical_id}"
    if kind == "AWS::SQS::Queue":
        return f"arn:aws:sqs:eu-west-1:111122223333:turnstile-{logical_id}"
    raise ValueError(f"no dummy value for {kind} {logical_id}")


def function_alias_arn(logical_id: str) -> str:
    """The dummy ARN of a function's alias (Ref X.Alias), what the definitions invoke."""
    return f"{_dummy_value(logical_id, 'Arn')}:{function_properties(logical_id)['AutoPublishAlias']}"


def rendered_definition(logical_id: str, params: dict[str, Any] | None = None) -> str:
    """The state machine's definition as CloudFormation would substitute it, with dummy
    ARNs for the template's resources. Fails on a placeholder without a substitution."""
    machine = state_machines()[logical_id]
    params = {**parameter_defaults(), "IdentityStoreId": "d-1234567890", **(params or {})}
    refs: dict[Any, Any] = {}
    for name in resources():
        try:
            refs[name] = _dummy_value(name, None)
            refs[(name, "Arn")] = _dummy_value(name, "Arn")
        except ValueError:
            pass
    for name in functions():
        refs[f"{name}.Alias"] = function_alias_arn(name)
    values = {key: resolve(expr, params, refs) for key, expr in machine["substitutions"].items()}
    missing = placeholders(machine["text"]) - values.keys()
    if missing:
        raise AssertionError(f"{machine['path'].name}: no DefinitionSubstitutions for {sorted(missing)}")
    text = PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), machine["text"])
    json.loads(text)
    return text


# --------------------------------------------------------------------------------------
# The template as CloudFormation receives it: expanded by the SAM transform, rendered
# --------------------------------------------------------------------------------------

REGION = "eu-west-1"
ACCOUNT = "111122223333"
STACK = "turnstile"
# A group id of the form the Identity Store gives (its API's GroupId pattern).
DUMMY_GROUP_ID = "9067a8f2-d031-70a6-5a4f-3e8c1f7b2a90"


@cache
def _expanded(params_json: str) -> str:
    return json.dumps(_expand(json.loads(params_json)))


def expanded(params: dict) -> dict:
    """The template after the SAM transform for the deployment `params` (see _expand);
    a fresh copy each call, computed once per deployment."""
    return json.loads(_expanded(json.dumps(params, sort_keys=True)))


def _expand(params: dict) -> dict:
    """The template after the SAM transform, as CloudFormation would receive it. Local
    paths, which `sam build` and `sam deploy` replace with S3 locations, are replaced as
    they would be: the code by an S3 URI, a definition file by its content."""
    # Imported here: only the tests that expand the template need the SAM translator.
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    fragment = copy.deepcopy(template())
    for res in fragment["Resources"].values():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::Serverless::Function":
            props["CodeUri"] = "s3://offline-check/turnstile.zip"
        if res["Type"] == "AWS::Serverless::StateMachine":
            props["Definition"] = json.loads((INFRA / props.pop("DefinitionUri")).read_text(encoding="utf-8"))
    # The region is the only thing SAM reads from the session; the template names no
    # managed policy in `Policies`, so the map of their names is empty (no IAM lookup).
    session = boto3.session.Session(region_name=REGION, aws_access_key_id="offline", aws_secret_access_key="offline")
    return Translator({}, Parser(), boto_session=session).translate(fragment, dict(params))


class Renderer:
    """Resolves CloudFormation intrinsics for one deployment of the expanded template."""

    def __init__(self, template: dict, params: dict):
        self.template = template
        self.params = params

    def holds(self, condition: str | None) -> bool:
        return condition_holds(condition, self.params)

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
            "AWS::CloudWatch::Alarm": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}",
        }
        if kind == "AWS::Lambda::Version":
            return f"{self.attribute(props['FunctionName']['Ref'], 'Arn')}:1"
        if kind == "AWS::Lambda::Alias":
            # Ref and Arn are both the alias ARN.
            function = self.attribute(props["FunctionName"]["Ref"], "Arn")
            return f"{function}:{self.render(props['Name'])}"
        if kind == "AWS::Logs::LogGroup":
            group = self.render(props.get("LogGroupName", name))
            return group if attribute == "Ref" else f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:*"
        if kind == "AWS::IdentityStore::Group":
            return DUMMY_GROUP_ID
        if kind == "AWS::SQS::Queue" and attribute == "Ref":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"
        if kind == "AWS::SQS::Queue" and attribute == "QueueName":
            return name
        if kind in {"AWS::Events::EventBus", "AWS::Lambda::Function", "AWS::DynamoDB::Table", "AWS::IAM::Role", "AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard"} and attribute == "Ref":
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



# --------------------------------------------------------------------------------------
# The Rust code, as it describes itself
# --------------------------------------------------------------------------------------


def cargo(*args: str, cwd: Path = ROOT) -> str:
    """The standard output of `cargo <args>` run in `cwd`. Each command runs once per
    session: a failure is remembered too, so that the tests that need it fail fast."""
    ok, text = _cargo(args, cwd)
    if not ok:
        raise AssertionError(text)
    return text


@cache
def _cargo(args: tuple[str, ...], cwd: Path) -> tuple[bool, str]:
    command = ["cargo", *args]
    try:
        done = subprocess.run(command, cwd=cwd, check=True, capture_output=True, text=True)
    except FileNotFoundError as e:
        return False, f"`{' '.join(command)}`: cargo is not installed ({e})"
    except subprocess.CalledProcessError as e:
        return False, f"`{' '.join(command)}` in {cwd} failed (exit {e.returncode}):\n{e.stderr}"
    return True, done.stdout


@cache
def description() -> dict:
    """`cargo xtask describe`: {"errorTypes": [{"name", "retryable"}, ...],
    "functions": [{"name", "identityStoreOperations", "ledgerActions"}, ...],
    "defaults": {"LEAVERS_GROUP": ...}}."""
    return json.loads(cargo("xtask", "describe", cwd=ROOT))


def error_types() -> set[str]:
    """The errorTypes the functions emit."""
    names = {e["name"] for e in description()["errorTypes"]}
    if not names:
        raise AssertionError("cargo xtask describe lists no errorType")
    return names


def retryable_error_types() -> set[str]:
    """The errorTypes the contract marks retryable: a caller should retry them."""
    return {e["name"] for e in description()["errorTypes"] if e["retryable"]}


def function_names() -> list[str]:
    """The functions: each is a binary, the crate functions/<name>/, and a template
    function's Metadata.BuildProperties.Binary."""
    return [f["name"] for f in description()["functions"]]


def _described(name: str) -> dict:
    for function in description()["functions"]:
        if function["name"] == name:
            return function
    raise AssertionError(f"cargo xtask describe has no function {name!r} (it has {function_names()})")


def function_operations(name: str) -> set[str]:
    """The Identity Store operations the function `name` sends."""
    return set(_described(name)["identityStoreOperations"])


def ledger_actions(name: str) -> set[str]:
    """The DynamoDB actions the function `name`'s ledger calls need."""
    return set(_described(name)["ledgerActions"])


@cache
def cargo_metadata(cwd: Path = ROOT) -> dict:
    """`cargo metadata --no-deps`: the workspace's packages, their targets, and
    workspace_default_members (what a build that names no package selects)."""
    return json.loads(cargo("metadata", "--no-deps", "--format-version", "1", "--locked", cwd=cwd))
