"""The Identity Store quota arithmetic, recomputed from the template and the code (the
operations each function sends, from `cargo xtask describe`).

Client pacing is a guaranteed floor plus borrowing. Each execution environment paces
every Identity Store API it calls (client side, per API) between CALLS_PER_SECOND, its
guaranteed floor, and MAX_CALLS_PER_SECOND, the ceiling it may borrow up to while the
service does not throttle it: it adds to its pace while calls succeed, never above the
ceiling, and cuts it on a throttle, not below the floor (only throttles at the floor in
a row, which another client of the store causes, take it lower for a while). So:

- when every environment is busy and throttled back, each runs at its floor, and per API
  the worst case is the sum, over the functions whose code calls that API, of
  ReservedConcurrentExecutions x CALLS_PER_SECOND: it must stay within the quota (or the
  floors alone would keep the service throttling);
- one environment alone never exceeds the quota: its ceiling is at most the quota, and
  at least its floor;
- no event source mapping may invoke a function more often at once than its reserved
  concurrency allows, or Lambda throttles the poller's invocations and the batches go
  back to the queue, each return counting toward maxReceiveCount.

Only the first check needs the code (`cargo xtask describe`); the other two read the
template alone.
"""

import pytest

import infra_support as infra

FUNCTIONS = sorted(infra.functions().items())


def quota():
    return infra.template()["Metadata"]["Turnstile"]["QuotaModel"]["IdentityStoreTpsPerApi"]


def pace(logical_id, variable):
    return int(infra.function_properties(logical_id)["Environment"]["Variables"][variable])


def test_the_floors_of_every_function_calling_an_api_sum_to_at_most_the_quota():
    tps = quota()
    rates = {}
    for logical_id, binary in infra.functions().items():
        reserved = infra.function_properties(logical_id)["ReservedConcurrentExecutions"]
        floor = pace(logical_id, "CALLS_PER_SECOND")
        assert floor > 0, f"{binary}: CALLS_PER_SECOND 0 turns pacing off"
        for op in infra.function_operations(binary):
            rates.setdefault(op, {})[binary] = (reserved, floor)
    table = []
    over = []
    for op, shares in sorted(rates.items()):
        total = sum(reserved * floor for reserved, floor in shares.values())
        terms = " + ".join(f"{b} {reserved}x{floor}" for b, (reserved, floor) in sorted(shares.items()))
        line = f"{op:32} {terms:56} = {total} TPS"
        table.append(line)
        if total > tps:
            over.append(line)
    assert rates, "no function calls any Identity Store API: the derivation is broken"
    assert not over, (
        f"busy and throttled back to their floors, the functions exceed {tps} TPS per API:\n  "
        + "\n  ".join(over)
        + "\nfull table:\n  "
        + "\n  ".join(table)
    )


@pytest.mark.parametrize(("logical_id", "binary"), FUNCTIONS)
def test_one_environment_borrows_at_most_the_quota_and_never_less_than_its_floor(logical_id, binary):
    floor = pace(logical_id, "CALLS_PER_SECOND")
    ceiling = pace(logical_id, "MAX_CALLS_PER_SECOND")
    assert 0 < floor <= ceiling, f"{binary}: MAX_CALLS_PER_SECOND {ceiling} is below CALLS_PER_SECOND {floor}"
    assert ceiling <= quota(), f"{binary}: MAX_CALLS_PER_SECOND {ceiling} lets one environment exceed the quota {quota()}"


def test_no_event_source_mapping_invokes_a_function_beyond_its_reserved_concurrency():
    mappings = infra.event_source_mappings()
    assert mappings, "the template has no event source mapping"
    for name, mapping in mappings.items():
        reserved = infra.function_properties(mapping["function"])["ReservedConcurrentExecutions"]
        maximum = mapping["properties"].get("ScalingConfig", {}).get("MaximumConcurrency")
        assert maximum is not None, (
            f"{name}: no ScalingConfig.MaximumConcurrency, so the poller may invoke {mapping['function']} "
            f"beyond its reserved concurrency {reserved}"
        )
        assert maximum <= reserved, (
            f"{name}: MaximumConcurrency {maximum} is above {mapping['function']}'s reserved concurrency "
            f"{reserved}: Lambda would throttle the poller and the batches would count toward maxReceiveCount"
        )
