"""Each function's Identity Store permissions are exactly the operations its code sends.

The code side is derived from the Rust domain crate: the store methods each job module
calls (`self.store.<method>(`), expanded through shared/src/store.rs to the operation
names of their `call("X", ...)` / `list_all("X", ...)` calls, following calls between
store methods.
"""

import re

import pytest

import infra_support as infra

FUNCTIONS = sorted(infra.functions().items())
IDENTITY_STORE_RESOURCES = [
    {"Fn::Sub": "arn:${AWS::Partition}:identitystore::${AWS::AccountId}:identitystore/${IdentityStoreId}"},
    {"Fn::Sub": "arn:${AWS::Partition}:identitystore:::user/*"},
    {"Fn::Sub": "arn:${AWS::Partition}:identitystore:::group/*"},
    {"Fn::Sub": "arn:${AWS::Partition}:identitystore:::membership/*"},
]


def identity_store_actions(logical_id):
    actions = set()
    for statement in infra.function_policy_statements(logical_id):
        for action in infra.as_list(statement["Action"]):
            if action.lower().startswith("identitystore:"):
                actions.add(action.split(":", 1)[1])
    return actions


@pytest.mark.parametrize(("logical_id", "binary"), FUNCTIONS)
def test_identity_store_actions_equal_the_operations_the_code_calls(logical_id, binary):
    code = infra.function_operations(binary)
    policy = identity_store_actions(logical_id)
    assert code, f"found no Identity Store operation for {binary}: the derivation is broken"
    missing = sorted(code - policy)
    extra = sorted(policy - code)
    assert not missing and not extra, (
        f"{logical_id} ({binary}): IAM actions differ from {infra.JOB_MODULES[binary].name}'s Identity Store calls\n"
        f"  called by the code but not allowed (add to the policy): {missing}\n"
        f"  allowed but never called (remove from the policy):   {extra}"
    )


@pytest.mark.parametrize(("logical_id", "binary"), FUNCTIONS)
def test_no_wildcards_and_identity_store_resources_only(logical_id, binary):
    for statement in infra.function_policy_statements(logical_id):
        actions = infra.as_list(statement["Action"])
        assert all("*" not in a for a in actions), f"{logical_id}: wildcard action in {actions}"
        assert statement["Effect"] == "Allow"
        resources = infra.as_list(statement["Resource"])
        assert "*" not in resources, f"{logical_id}: Resource '*' in {statement.get('Sid')}"
        if any(a.startswith("identitystore:") for a in actions):
            assert resources == IDENTITY_STORE_RESOURCES, f"{logical_id}: identity store resources {resources}"


@pytest.mark.parametrize(("logical_id", "binary"), FUNCTIONS)
def test_the_handler_runs_the_job_module(logical_id, binary):
    handler = (infra.ROOT / "functions" / binary / "src" / "handler.rs").read_text(encoding="utf-8")
    module = infra.JOB_MODULES[binary].read_text(encoding="utf-8")
    called = set(re.findall(r"\bservice\s*\.\s*(\w+)\s*\(", handler)) - {"deadline", "config"}
    assert called, f"{binary}'s handler calls no job"
    for job in called:
        assert re.search(rf"\bpub\s+async\s+fn\s+{job}\b", module), (
            f"{binary}'s handler calls service.{job}(), which {infra.JOB_MODULES[binary].name} does not define"
        )

