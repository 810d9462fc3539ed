"""The example SQS batch and the functions' batch answer match the contract's schemas
(docs/schemas). The request schemas use Unicode property escapes that Python's `re`
cannot compile, so only the batch schemas, which have none, are checked here."""

import json

import jsonschema

import infra_support as infra

SCHEMAS = infra.ROOT / "docs" / "schemas"


def schema(name):
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


def test_the_example_sqs_batch_matches_the_batch_schema_and_each_body_is_one_request():
    batch = json.loads((infra.ROOT / "events" / "onboard-user.sqs.json").read_text(encoding="utf-8"))
    jsonschema.validate(batch, schema("sqs-batch.schema.json"))
    assert len(batch["Records"]) == 2
    for record in batch["Records"]:
        body = json.loads(record["body"])
        assert isinstance(body, dict) and "Records" not in body


def test_a_batch_answer_names_failed_records_and_nothing_else():
    answer = schema("sqs-batch.result.schema.json")
    jsonschema.validate({"batchItemFailures": [{"itemIdentifier": "m-1"}]}, answer)
    jsonschema.validate({"batchItemFailures": []}, answer)
    for bad in ({}, {"batchItemFailures": [{}]}, {"batchItemFailures": [], "results": []}):
        try:
            jsonschema.validate(bad, answer)
        except jsonschema.ValidationError:
            continue
        raise AssertionError(f"accepted {bad}")


def test_a_record_without_a_message_id_or_from_another_source_does_not_match():
    batch = schema("sqs-batch.schema.json")
    for bad in (
        {"Records": [{"body": "{}"}]},
        {"Records": [{"messageId": "m", "body": "{}", "eventSource": "aws:sns"}]},
        {"Records": {}},
    ):
        try:
            jsonschema.validate(bad, batch)
        except jsonschema.ValidationError:
            continue
        raise AssertionError(f"accepted {bad}")
