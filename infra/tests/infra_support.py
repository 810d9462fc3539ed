"""Reads the infrastructure (template, state machines) and the Rust code it must agree with.

Everything here is derived from the files themselves, so that a change to the code, the
contract or the template that is not carried through to the others fails the checks.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any, Iterator

import yaml

INFRA = Path(__file__).resolve().parent.parent
ROOT = INFRA.parent
TEMPLATE = INFRA / "template.yaml"
SHARED_SRC = ROOT / "shared" / "src"

# Which domain module holds each function's job (the handler in functions/<binary>/ calls
# into it; test_iam.py checks that too).
JOB_MODULES = {
    "onboard-user": SHARED_SRC / "onboard.rs",
    "offboard-user": SHARED_SRC / "offboard.rs",
    "sync-group": SHARED_SRC / "sync.rs",
}

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
    """The resource a rule target's Arn points at (GetAtt X.Arn or Ref X)."""
    if isinstance(arn_expr, dict) and "Fn::GetAtt" in arn_expr:
        return arn_expr["Fn::GetAtt"][0]
    if isinstance(arn_expr, dict) and "Ref" in arn_expr:
        return arn_expr["Ref"]
    raise ValueError(f"rule target Arn {arn_expr!r} is not a reference to a resource in the template")


def binaries_reached(logical_id: str) -> set[str]:
    """The function binaries a rule target ends up running: the function itself, or the
    functions a state machine invokes (through its DefinitionSubstitutions)."""
    res = resources()[logical_id]
    if res["Type"] == "AWS::Serverless::Function":
        return {functions()[logical_id]}
    if res["Type"] == "AWS::Serverless::StateMachine":
        out = set()
        for value in res["Properties"].get("DefinitionSubstitutions", {}).values():
            if isinstance(value, dict) and "Fn::GetAtt" in value:
                referenced = value["Fn::GetAtt"][0]
                if referenced in functions():
                    out.add(functions()[referenced])
        return out
    raise ValueError(f"{logical_id} is a {res['Type']}, not a function or state machine")


def function_policy_statements(logical_id: str) -> list[dict]:
    statements = []
    for policy in function_properties(logical_id).get("Policies", []):
        if not isinstance(policy, dict) or "Statement" not in policy:
            raise AssertionError(
                f"{logical_id}: only inline policy documents are allowed (found {policy!r}), "
                "so that the test can see every permission"
            )
        body = policy["Statement"]
        statements.extend(body if isinstance(body, list) else [body])
    return statements


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
    values = {key: resolve(expr, params, refs) for key, expr in machine["substitutions"].items()}
    missing = placeholders(machine["text"]) - values.keys()
    if missing:
        raise AssertionError(f"{machine['path'].name}: no DefinitionSubstitutions for {sorted(missing)}")
    text = PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), machine["text"])
    json.loads(text)
    return text


# --------------------------------------------------------------------------------------
# The Rust code
# --------------------------------------------------------------------------------------


def _strip_tests(text: str) -> str:
    """The module without its `#[cfg(test)]` part."""
    cut = text.find("#[cfg(test)]")
    return text if cut < 0 else text[:cut]


def _block_from(text: str, start: int) -> str:
    """The brace-delimited block that opens at or after `start` (string, char and comment
    contents skipped)."""
    i = text.index("{", start)
    depth = 0
    j = i
    while j < len(text):
        c = text[j]
        if c == "/" and text.startswith("//", j):
            j = text.index("\n", j)
            continue
        if c == '"':
            j += 1
            while text[j] != '"':
                j += 2 if text[j] == "\\" else 1
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[i : j + 1]
        j += 1
    raise ValueError("unbalanced braces")


def fn_body(text: str, name: str) -> str:
    match = re.search(rf"\bfn\s+{re.escape(name)}\b", text)
    if match is None:
        raise AssertionError(f"no `fn {name}` found")
    return _block_from(text, match.end())


@cache
def error_types() -> dict[str, str]:
    """Error variant -> errorType, from the arms of `Error::error_type()` in error.rs."""
    body = fn_body((SHARED_SRC / "error.rs").read_text(encoding="utf-8"), "error_type")
    arms = dict(re.findall(r"Self::(\w+)\b[^=]*?=>\s*\"([^\"]+)\"", body))
    if not arms:
        raise AssertionError("no errorType found in error.rs error_type()")
    return arms


@cache
def retryable_error_types() -> set[str]:
    """The errorTypes `Error::is_retryable()` in error.rs says yes to."""
    body = fn_body((SHARED_SRC / "error.rs").read_text(encoding="utf-8"), "is_retryable")
    variants = set(re.findall(r"Self::(\w+)", body))
    unknown = variants - error_types().keys()
    if unknown or not variants:
        raise AssertionError(f"is_retryable names variants error_type() does not: {sorted(unknown)}")
    return {error_types()[v] for v in variants}


def _impl_methods(file: str, type_name: str) -> dict[str, str]:
    """Method name -> body, for every method of `impl <type_name>` in shared/src/<file>."""
    text = _strip_tests((SHARED_SRC / file).read_text(encoding="utf-8"))
    impl = re.search(rf"\bimpl\s+{type_name}\s*\{{", text)
    if impl is None:
        raise AssertionError(f"no `impl {type_name}` in {file}")
    block = _block_from(text, impl.start())
    return {m.group(1): _block_from(block, m.end()) for m in re.finditer(r"\bfn\s+(\w+)", block)}


@cache
def store_methods() -> dict[str, str]:
    """Method name -> body, for every method of `impl IdentityStore` in store.rs."""
    return _impl_methods("store.rs", "IdentityStore")


_OPERATION = re.compile(r"(?:\.\s*call|\blist_all)\s*\(\s*\"(\w+)\"")
_SELF_CALL = re.compile(r"\b(?:self\s*\.|Self::)\s*(\w+)\s*(?:::<[^>]*>)?\s*\(")


@cache
def store_operations(method: str, _seen: frozenset = frozenset()) -> frozenset[str]:
    """Identity Store operations a store method sends, following calls to other store
    methods (create_user -> GetUserId, create_membership -> GetGroupMembershipId, ...)."""
    methods = store_methods()
    if method not in methods:
        raise KeyError(method)
    body = methods[method]
    ops = set(_OPERATION.findall(body))
    for callee in _SELF_CALL.findall(body):
        if callee in methods and callee not in {"call", "list_all", method} and callee not in _seen:
            ops |= store_operations(callee, _seen | {method})
    return frozenset(ops)


_STORE_CALL = re.compile(r"\.\s*store\s*\.\s*(\w+)\s*\(")


@cache
def shared_helpers() -> dict[str, str]:
    """Method name -> body, for the `impl Service` helpers in fence.rs that the jobs share."""
    return _impl_methods("fence.rs", "Service")


def _store_calls_in(text: str, seen: frozenset = frozenset()) -> set[str]:
    calls = set(_STORE_CALL.findall(text))
    helpers = shared_helpers()
    for callee in _SELF_CALL.findall(text):
        if callee in helpers and callee not in seen:
            calls |= _store_calls_in(helpers[callee], seen | {callee})
    return calls


def job_store_calls(module: Path) -> set[str]:
    """Store methods a job module calls (`self.store.<method>(`, across line breaks),
    directly or through the shared helpers in fence.rs (`self.<helper>(`)."""
    return _store_calls_in(_strip_tests(module.read_text(encoding="utf-8")))


def operations_of(methods: set[str]) -> set[str]:
    unknown = methods - store_methods().keys()
    if unknown:
        raise AssertionError(f"job code calls store methods that store.rs does not define: {sorted(unknown)}")
    out: set[str] = set()
    for method in methods:
        out |= store_operations(method)
    return out


def function_operations(binary: str) -> set[str]:
    return operations_of(job_store_calls(JOB_MODULES[binary]))
