"""The errorTypes the code emits (`cargo xtask describe`) are the contract's
(docs/contract.md), retryable alike."""

import re

import infra_support as infra


def contract_errors():
    text = (infra.ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
    section = text.split("\n## Errors", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\|\s*`(\w+)`\s*\|\s*(yes|no)\s*\|", section, flags=re.MULTILINE)
    assert rows, "no errorType table found under '## Errors' in docs/contract.md"
    return {name: retry == "yes" for name, retry in rows}


def test_error_types_match_the_contract():
    documented = contract_errors()
    emitted = infra.error_types()
    assert emitted == set(documented), (
        f"only in the code: {sorted(emitted - set(documented))}; only in the contract: {sorted(set(documented) - emitted)}"
    )


def test_retryable_errors_match_the_contract():
    documented = {name for name, retry in contract_errors().items() if retry}
    assert infra.retryable_error_types() == documented
