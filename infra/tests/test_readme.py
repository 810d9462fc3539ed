"""The README's "Deploying" section documents every template parameter."""

import re

import infra_support as infra


def test_every_parameter_is_documented():
    readme = (infra.ROOT / "README.md").read_text(encoding="utf-8")
    assert "\n## Deploying\n" in readme, "README.md has no '## Deploying' section"
    section = readme.split("\n## Deploying\n", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\|\s*`(\w+)`\s*\|", section, flags=re.MULTILINE))
    parameters = set(infra.template()["Parameters"])
    assert parameters == documented, (
        f"not documented: {sorted(parameters - documented)}; documented but not in the template: "
        f"{sorted(documented - parameters)}"
    )
