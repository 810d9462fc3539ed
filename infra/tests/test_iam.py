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
STORE = {"Fn::Sub": "arn:${AWS::Partition}:identitystore::${AWS::AccountId}:identitystore/${IdentityStoreId}"}
ALL_USERS = {"Fn::Sub": "arn:${AWS::Partition}:identitystore:::user/*"}
ALL_GROUPS = {"Fn::Sub": "arn:${AWS::Partition}:identitystore:::group/*"}
ALL_MEMBERSHIPS = {"Fn::Sub": "arn:${AWS::Partition}:identitystore:::membership/*"}
LEAVERS_GROUP = {"Fn::Sub": "arn:${AWS::Partition}:identitystore:::group/${LeaversFenceGroup.GroupId}"}
IDENTITY_STORE_RESOURCES = [STORE, ALL_USERS, ALL_GROUPS, ALL_MEMBERSHIPS]
# The fence's statements: every group resource is the leavers group's.
FENCE_RESOURCES = [STORE, ALL_USERS, ALL_MEMBERSHIPS, LEAVERS_GROUP]
TURNSTILE = infra.template()["Metadata"]["Turnstile"]


def withheld(binary):
    """The declared operations the template does not grant `binary`, with the reasons."""
    return TURNSTILE.get("WithheldOperations", {}).get(binary, {})


def fence_only(binary):
    return set(TURNSTILE.get("FenceOnlyOperations", {}).get(binary, []))


def identity_store_actions(logical_id, params=None):
    actions = set()
    for statement in infra.function_policy_statements(logical_id, params):
        for action in infra.as_list(statement["Action"]):
            if action.lower().startswith("identitystore:"):
                actions.add(action.split(":", 1)[1])
    return actions


def group_resources(statement):
    return [r for r in infra.as_list(statement["Resource"]) if ":::group/" in r["Fn::Sub"]]


@pytest.mark.parametrize(("logical_id", "binary"), FUNCTIONS)
def test_identity_store_actions_equal_the_operations_the_code_calls(logical_id, binary):
    # Over every deployment (every branch of the policies' conditions), the policy grants
    # what the code declares, less what the template withholds for a stated reason.
    code = infra.function_operations(binary)
    policy = identity_store_actions(logical_id)
    assert code, f"found no Identity Store operation for {binary}: the derivation is broken"
    kept_back = set(withheld(binary))
    assert kept_back <= code, f"{binary}: withholds {sorted(kept_back - code)}, which the code never sends"
    missing = sorted(code - kept_back - policy)
    extra = sorted(policy - code)
    assert not missing and not extra, (
        f"{logical_id} ({binary}): IAM actions differ from the Identity Store operations the code describes\n"
        f"  called by the code but not allowed (add to the policy): {missing}\n"
        f"  allowed but never called (remove from the policy):   {extra}"
    )
    assert not kept_back & policy, f"{binary}: withholds {sorted(kept_back & policy)} but grants them"


def test_withheld_operations_are_fence_only_and_explained():
    # A withheld operation is one only the fence sends and that the template makes
    # needless by creating the leavers group whenever the fence is on.
    group = infra.resources()["LeaversFenceGroup"]
    assert group["Type"] == "AWS::IdentityStore::Group"
    assert group["Condition"] == "HasLeaversGroup"
    assert infra.template()["Conditions"]["HasLeaversGroup"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "LeaversGroup"}, ""]}]}
    assert group["Properties"]["DisplayName"] == {"Ref": "LeaversGroup"}
    assert group["Properties"]["IdentityStoreId"] == {"Ref": "IdentityStoreId"}
    for binary, operations in TURNSTILE["WithheldOperations"].items():
        assert binary in infra.functions().values(), binary
        for operation, reason in operations.items():
            assert operation in fence_only(binary), f"{binary}: {operation} is withheld but not fence-only"
            assert len(reason.split()) >= 10, f"{binary}: withholding {operation} needs a reason"


@pytest.mark.parametrize("fence", ["turnstile-leavers", ""])
@pytest.mark.parametrize("create_missing_groups", ["true", "false"])
@pytest.mark.parametrize(("logical_id", "binary"), FUNCTIONS)
def test_the_fence_is_granted_on_the_leavers_group_only(logical_id, binary, fence, create_missing_groups):
    params = {
        **infra.deployment_parameters("direct"),
        "LeaversGroup": fence,
        "CreateMissingGroups": create_missing_groups,
    }
    only = fence_only(binary)
    granted_everywhere = set()
    granted_on_fence = set()
    for statement in infra.function_policy_statements(logical_id, params):
        actions = {a.split(":", 1)[1] for a in infra.as_list(statement["Action"]) if a.startswith("identitystore:")}
        if not actions:
            continue
        groups = group_resources(statement)
        if groups == [LEAVERS_GROUP]:
            assert infra.as_list(statement["Resource"]) == FENCE_RESOURCES, statement.get("Sid")
            granted_on_fence |= actions
        else:
            granted_everywhere |= actions
    # No operation only the fence needs is held on every group (or, for CreateGroup,
    # on the whole store).
    assert not only & granted_everywhere, f"{binary}: fence-only {sorted(only & granted_everywhere)} on every group"
    if fence:
        assert granted_on_fence == only - set(withheld(binary)), f"{binary}: fence grants {sorted(granted_on_fence)}"
    else:
        # Fence off: no group, and nothing granted for it.
        assert granted_on_fence == set(), f"{binary}: fence grants {sorted(granted_on_fence)} with the fence off"
    # onboard-user's CreateGroup exists for CREATE_MISSING_GROUPS; with it off, only the
    # fence's mark would send it, and the template's group makes that needless.
    if binary == "onboard-user":
        assert ("CreateGroup" in granted_everywhere) == (create_missing_groups == "true")
        env = infra.function_properties(logical_id)["Environment"]["Variables"]
        assert env["CREATE_MISSING_GROUPS"] == {"Ref": "CreateMissingGroups"}


@pytest.mark.parametrize(("logical_id", "binary"), FUNCTIONS)
def test_no_wildcards_and_identity_store_resources_only(logical_id, binary):
    for statement in infra.function_policy_statements(logical_id):
        actions = infra.as_list(statement["Action"])
        assert all("*" not in a for a in actions), f"{logical_id}: wildcard action in {actions}"
        assert statement["Effect"] == "Allow"
        resources = infra.as_list(statement["Resource"])
        assert "*" not in resources, f"{logical_id}: Resource '*' in {statement.get('Sid')}"
        if actions == ["identitystore:CreateGroup"]:
            # CreateGroup's only resource type is the identity store.
            assert resources == [STORE], f"{logical_id}: CreateGroup on {resources}"
        elif any(a.startswith("identitystore:") for a in actions):
            assert resources in (IDENTITY_STORE_RESOURCES, FENCE_RESOURCES), (
                f"{logical_id}: identity store resources {resources}"
            )
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
