"""Each function's Identity Store permissions are exactly the operations its code sends.

The code side is the function's `identityStoreOperations` in `cargo xtask describe`: the
domain crate's own table of the operations each function sends (debug builds check every
call against it), so no Rust source is parsed here. Each described function must also be
a crate of the workspace, functions/<name>/, with a binary of that name.
"""

from pathlib import Path

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
        f"{logical_id} ({binary}): IAM actions differ from the Identity Store operations the code describes\n"
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
        if any(a.startswith("dynamodb:") for a in actions):
            assert resources == [{"Fn::GetAtt": ["LedgerTable", "Arn"]}], (
                f"{logical_id}: DynamoDB actions on {resources}, not the ledger table alone"
            )


@pytest.mark.parametrize(("logical_id", "binary"), FUNCTIONS)
def test_ledger_actions_equal_the_ones_the_code_sends(logical_id, binary):
    policy = {
        action.split(":", 1)[1]
        for statement in infra.function_policy_statements(logical_id)
        for action in infra.as_list(statement["Action"])
        if action.lower().startswith("dynamodb:")
    }
    assert policy == infra.ledger_actions(binary), f"{logical_id} ({binary}): DynamoDB actions {sorted(policy)}"
    env = infra.function_properties(logical_id)["Environment"]["Variables"]
    assert env["LEDGER_TABLE"] == {"Ref": "LedgerTable"}


QUEUE_CONSUMER_ACTIONS = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"}


@pytest.mark.parametrize("mode", infra.routing_modes())
@pytest.mark.parametrize(("logical_id", "binary"), FUNCTIONS)
def test_a_function_may_consume_exactly_the_queues_its_mappings_read(logical_id, binary, mode):
    params = infra.deployment_parameters(mode)
    read = sorted(
        m["queue"]
        for m in infra.event_source_mappings().values()
        if m["function"] == logical_id and infra.condition_holds(m["condition"], params)
    )
    granted = []
    for statement in infra.function_policy_statements(logical_id, params):
        actions = infra.as_list(statement["Action"])
        if any(a.startswith("sqs:") for a in actions):
            assert set(actions) == QUEUE_CONSUMER_ACTIONS, f"{logical_id}: sqs actions {sorted(actions)}"
            (resource,) = infra.as_list(statement["Resource"])
            granted.append(infra.target_logical_id(resource))
    assert sorted(granted) == read, (
        f"{mode}: {logical_id} may consume {sorted(granted)}, but its event source mappings read {read}"
    )


def test_every_described_function_is_a_crate_with_its_binary():
    # One test over the described names, not parametrized by them: collecting this module
    # must not need cargo, so that the template-only checks above still run without it.
    packages = {Path(p["manifest_path"]).resolve(): p for p in infra.cargo_metadata()["packages"]}
    names = infra.function_names()
    assert names, "cargo xtask describe lists no function"
    problems = []
    for name in names:
        manifest = (infra.ROOT / "functions" / name / "Cargo.toml").resolve()
        package = packages.get(manifest)
        if package is None:
            problems.append(f"{name}: no workspace package has the manifest {manifest}")
            continue
        binaries = sorted(t["name"] for t in package["targets"] if "bin" in t["kind"])
        if name not in binaries:
            problems.append(f"{name}: {package['name']} ({manifest}) has no bin target {name!r} (it has {binaries})")
    assert not problems, (
        "functions that cargo xtask describe lists but the workspace does not build:\n  " + "\n  ".join(problems)
    )
