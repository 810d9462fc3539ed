"""The Identity Store quota arithmetic, recomputed from the template and the code (the
operations each function sends, from `cargo xtask describe`).

Each execution environment paces every Identity Store API at CALLS_PER_SECOND (client
side, per API). Per API, the worst case is the sum, over the functions whose code calls
that API, of ReservedConcurrentExecutions x CALLS_PER_SECOND; it must stay within the
per-API quota.
"""

import infra_support as infra


def test_worst_case_call_rate_per_api_is_within_the_quota():
    model = infra.template()["Metadata"]["Turnstile"]["QuotaModel"]
    tps = model["IdentityStoreTpsPerApi"]
    rates = {}
    for logical_id, binary in infra.functions().items():
        props = infra.function_properties(logical_id)
        reserved = props["ReservedConcurrentExecutions"]
        pace = int(props["Environment"]["Variables"]["CALLS_PER_SECOND"])
        assert pace > 0, f"{binary}: CALLS_PER_SECOND 0 turns pacing off"
        for op in infra.function_operations(binary):
            rates.setdefault(op, {})[binary] = reserved * pace
    table = []
    over = []
    for op, shares in sorted(rates.items()):
        total = sum(shares.values())
        line = f"{op:32} {' + '.join(f'{b} {n}' for b, n in sorted(shares.items())):48} = {total} TPS"
        table.append(line)
        if total > tps:
            over.append(line)
    assert not over, (
        f"worst case above {tps} TPS per API:\n  " + "\n  ".join(over) + "\nfull table:\n  " + "\n  ".join(table)
    )
