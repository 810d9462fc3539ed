"""boto3 against the emulator: the calls, the paginator and the error members boto3
parses. Run by tests/boto3.rs with the emulator's endpoint as the only argument."""

import sys

import boto3
from botocore.config import Config

endpoint = sys.argv[1]
client = boto3.client(
    "identitystore",
    endpoint_url=endpoint,
    region_name="eu-west-1",
    aws_access_key_id="emulator",
    aws_secret_access_key="emulator",
    config=Config(retries={"max_attempts": 1, "mode": "standard"}),
)
store = "d-1234567890"

created = client.create_user(
    IdentityStoreId=store,
    UserName="alice",
    DisplayName="Alice",
    Name={"GivenName": "Alice", "FamilyName": "Archer"},
    Emails=[{"Value": "alice@example.com", "Type": "work", "Primary": True}],
)
alice = created["UserId"]
found = client.get_user_id(
    IdentityStoreId=store,
    AlternateIdentifier={"UniqueAttribute": {"AttributePath": "userName", "AttributeValue": "alice"}},
)
assert found["UserId"] == alice, found
described = client.describe_user(IdentityStoreId=store, UserId=alice)
assert described["Emails"][0]["Value"] == "alice@example.com", described

try:
    client.create_user(IdentityStoreId=store, UserName="alice", DisplayName="A", Name={"GivenName": "A", "FamilyName": "B"})
    raise AssertionError("a duplicate userName was accepted")
except client.exceptions.ConflictException as e:
    assert e.response["Reason"] == "UNIQUENESS_CONSTRAINT_VIOLATION", e.response

try:
    client.describe_user(IdentityStoreId=store, UserId="1234567890-00000000-0000-4000-8000-000000000000")
    raise AssertionError("a missing user was found")
except client.exceptions.ResourceNotFoundException as e:
    assert e.response["ResourceType"] == "USER", e.response

group = client.create_group(IdentityStoreId=store, DisplayName="Engineering")["GroupId"]
client.create_group_membership(IdentityStoreId=store, GroupId=group, MemberId={"UserId": alice})
for i in range(120):
    client.create_user(
        IdentityStoreId=store, UserName=f"user{i:03}", DisplayName="U", Name={"GivenName": "U", "FamilyName": "S"}
    )
pages = client.get_paginator("list_users").paginate(IdentityStoreId=store, PaginationConfig={"PageSize": 50})
sizes = [len(page["Users"]) for page in pages]
assert sizes == [50, 50, 21], sizes

members = client.list_group_memberships(IdentityStoreId=store, GroupId=group)["GroupMemberships"]
assert [m["MemberId"]["UserId"] for m in members] == [alice], members
print("boto3: every check passed")
