"""The Identity Store quota arithmetic, recomputed from the template and the code.

Per API, the worst case in flight is the sum over functions of
ReservedConcurrentExecutions x (MAX_CONCURRENCY when the job calls that API from a bounded
concurrent stream, else 1). At the template's stated minimum call latency, that many calls
in flight must stay within the per-API quota.
"""

import infra_support as infra


def test_worst_case_call_rate_per_api_is_within_the_quota():
    model = infra.template()["Metadata"]["Turnstile"]["QuotaModel"]
    tps, latency_ms = model["IdentityStoreTpsPerApi"], model["MinCallLatencyMs"]
    in_flight = {}
    for logical_id, binary in infra.functions().items():
        props = infra.function_properties(logical_id)
        reserved = props["ReservedConcurrentExecutions"]
        concurrency = int(props["Environment"]["Variables"]["MAX_CONCURRENCY"])
        module = infra.JOB_MODULES[binary]
        concurrent = infra.operations_of(infra.job_concurrent_store_calls(module))
        for op in infra.function_operations(binary):
            share = reserved * (concurrency if op in concurrent else 1)
            in_flight.setdefault(op, {})[binary] = share
    table = []
    over = []
    for op, shares in sorted(in_flight.items()):
        total = sum(shares.values())
        rate = total * 1000 / latency_ms
        line = f"{op:32} {' + '.join(f'{b} {n}' for b, n in sorted(shares.items())):48} = {total} in flight = {rate:.1f} TPS"
        table.append(line)
        if rate > tps + 1e-9:
            over.append(line)
    assert not over, (
        f"worst case above {tps} TPS per API at {latency_ms} ms per call:\n  " + "\n  ".join(over)
        + "\nfull table:\n  " + "\n  ".join(table)
    )
