"""Writes every state machine definition of the template, with its DefinitionSubstitutions
applied (dummy ARNs for the template's resources, parameter defaults), into a directory,
and prints the written paths: what scripts/check-infra.sh hands to asl-validator.

Usage: python infra/tests/render_asl.py OUTPUT_DIR
"""

import sys
from pathlib import Path

import infra_support as infra


def main(out_dir: str) -> int:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for logical_id, machine in sorted(infra.state_machines().items()):
        target = out / machine["path"].name
        target.write_text(infra.rendered_definition(logical_id), encoding="utf-8")
        print(target)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
