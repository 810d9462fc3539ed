"""onboard-user as a typical boto3 handler: the same calls as the Rust function
(CreateUser, GetUserId/DescribeUser/UpdateUser for an existing user, then per group
GetGroupId, CreateGroup if missing, CreateGroupMembership), one call at a time.

The client is created at import, as handlers usually do, so its cost is in the init.
"""

import os

import boto3

STORE = os.environ["IDENTITY_STORE_ID"]
client = boto3.client("identitystore")


def _user_attributes(user):
    attributes = {
        "UserName": user["userName"],
        "DisplayName": user["displayName"],
        "Name": {
            "GivenName": user["name"]["givenName"],
            "FamilyName": user["name"]["familyName"],
        },
    }
    for key, api in (("title", "Title"), ("userType", "UserType"), ("locale", "Locale"),
                     ("timezone", "Timezone"), ("preferredLanguage", "PreferredLanguage")):
        if key in user:
            attributes[api] = user[key]
    if user.get("emails"):
        email = user["emails"][0]
        attributes["Emails"] = [{"Value": email["value"], "Type": email.get("type", "work"),
                                 "Primary": email.get("primary", True)}]
    return attributes


def handler(event, _context):
    request = event.get("detail", event) if "detail-type" in event else event
    user = request["user"]
    attributes = _user_attributes(user)
    status = "created"
    try:
        user_id = client.create_user(IdentityStoreId=STORE, **attributes)["UserId"]
    except client.exceptions.ConflictException:
        user_id = client.get_user_id(
            IdentityStoreId=STORE,
            AlternateIdentifier={"UniqueAttribute": {"AttributePath": "userName",
                                                     "AttributeValue": user["userName"]}},
        )["UserId"]
        stored = client.describe_user(IdentityStoreId=STORE, UserId=user_id)
        operations = [
            {"AttributePath": key[0].lower() + key[1:], "AttributeValue": value}
            for key, value in attributes.items()
            if key not in ("UserName", "Name", "Emails") and stored.get(key) != value
        ]
        status = "unchanged"
        if operations:
            client.update_user(IdentityStoreId=STORE, UserId=user_id, Operations=operations)
            status = "updated"
    added, created = [], []
    for name in request.get("groups", []):
        try:
            group_id = client.get_group_id(
                IdentityStoreId=STORE,
                AlternateIdentifier={"UniqueAttribute": {"AttributePath": "displayName",
                                                         "AttributeValue": name}},
            )["GroupId"]
        except client.exceptions.ResourceNotFoundException:
            group_id = client.create_group(IdentityStoreId=STORE, DisplayName=name)["GroupId"]
            created.append(name)
        try:
            client.create_group_membership(IdentityStoreId=STORE, GroupId=group_id,
                                           MemberId={"UserId": user_id})
            added.append(name)
        except client.exceptions.ConflictException:
            pass
    return {"userId": user_id, "userName": user["userName"], "status": status,
            "groups": {"added": added, "created": created}}
