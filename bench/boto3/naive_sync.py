"""The naive roster sync the issue compares against (the pattern of ssosync,
idp-scim-sync and hand-written boto3 scripts): every run reads every user, every group
and every group's members, then writes the difference for the roster's group, one call
at a time.

Same request as sync-group (group.displayName, members, mode replace).
"""

import os

import boto3

STORE = os.environ["IDENTITY_STORE_ID"]
client = boto3.client("identitystore")


def _all(operation, key, **kwargs):
    items, token = [], None
    while True:
        page = getattr(client, operation)(IdentityStoreId=STORE, MaxResults=100,
                                          **({"NextToken": token} if token else {}), **kwargs)
        items.extend(page[key])
        token = page.get("NextToken")
        if not token:
            return items


def handler(event, _context):
    request = event.get("detail", event) if "detail-type" in event else event
    display_name = request["group"]["displayName"]
    users = {u["UserName"]: u["UserId"] for u in _all("list_users", "Users")}
    groups = {g["DisplayName"]: g["GroupId"] for g in _all("list_groups", "Groups")}
    members = {
        group_id: {m["MemberId"]["UserId"]: m["MembershipId"]
                   for m in _all("list_group_memberships", "GroupMemberships", GroupId=group_id)}
        for group_id in groups.values()
    }
    group_id = groups.get(display_name)
    current = members.get(group_id, {})
    if group_id is None:
        group_id = client.create_group(IdentityStoreId=STORE, DisplayName=display_name)["GroupId"]
    wanted = {users[name] for name in request["members"] if name in users}
    added = removed = 0
    for user_id in wanted - current.keys():
        client.create_group_membership(IdentityStoreId=STORE, GroupId=group_id,
                                       MemberId={"UserId": user_id})
        added += 1
    for user_id in current.keys() - wanted:
        client.delete_group_membership(IdentityStoreId=STORE, MembershipId=current[user_id])
        removed += 1
    return {"groupId": group_id, "added": added, "removed": removed,
            "unresolved": sum(1 for name in request["members"] if name not in users)}
