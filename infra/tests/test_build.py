"""Deployed binaries contain no test code.

SAM's rust-cargolambda build runs `cargo lambda build --release --arm64 --bin <Binary>` in
the function's CodeUri (the workspace root). It names no package, so cargo selects the
workspace's default-members and unifies features across them: a test crate selected
there would switch its test features on in the deployed binaries too. These tests look at
the dependency graph of exactly that selection, with `cargo tree` run in the CodeUri with
no package flags, for the Lambda target (aarch64 Linux), normal and build dependencies.

No test crate (aws-smithy-mocks, the emulator, the reliability suite) may be in it, and no
package may have its `test-util` feature on, except the few that a dependency's own
manifest switches on unconditionally (see UPSTREAM_TEST_UTIL), which the workspace cannot
turn off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest

import infra_support as infra

LAMBDA_TARGET = "aarch64-unknown-linux-gnu"
TEST_CRATES = {"aws-smithy-mocks", "turnstile-emulator", "turnstile-reliability"}
TEST_FEATURE = "test-util"

# `test-util` features a registry crate switches on in its own [dependencies], not behind
# a feature of its own: out of the workspace's hands. aws-config 1.x depends on
# aws-credential-types with features = ["test-util"] (smithy-lang/smithy-rs#4130, kept
# for compatibility until aws-config 2), which turns on aws-smithy-runtime-api's and
# aws-smithy-types' `test-util` in turn. Only packages listed here may be exempt; a new
# one fails the test until someone has looked at it.
UPSTREAM_TEST_UTIL = {"aws-credential-types", "aws-smithy-runtime-api", "aws-smithy-types"}

FUNCTIONS = sorted(infra.functions())

_FEATURE_NODE = re.compile(r'^(\S+) feature "([^"]*)"$')


@dataclass
class Graph:
    """What `cargo tree -e normal,build,features` shows: the packages with their enabled
    features, and for each feature node (package, feature) the nodes that enable it."""

    packages: dict[str, set[str]] = field(default_factory=dict)
    enablers: dict[tuple[str, str], set[tuple]] = field(default_factory=dict)


def tree_command(*extra: str) -> tuple[str, ...]:
    # The command of the brief with `--prefix depth` instead of `--prefix none`: the same
    # lines, each led by its depth, so that the enabling edges can be read back.
    return (
        "tree", "--locked", "--target", LAMBDA_TARGET,
        "-e", "normal,build,features", "--prefix", "depth", "--format", "{p} {f}",
        *extra,
    )  # fmt: skip


@cache
def graph(build_dir: Path, *extra: str) -> Graph:
    """The dependency graph of the selection `cargo tree` makes in `build_dir`."""
    out = Graph()
    stack: list[tuple] = []
    for line in infra.cargo(*tree_command(*extra), cwd=build_dir).splitlines():
        match = re.match(r"^(\d+)(.*)$", line)
        if match is None:
            continue
        depth, text = int(match.group(1)), match.group(2).removesuffix(" (*)")
        feature = _FEATURE_NODE.match(text)
        if feature:
            node: tuple = ("feature", feature.group(1), feature.group(2))
        else:
            # "{p} {f}": "<name> v<version> [(<path>)]" then the comma-separated features
            # (possibly none), which contain no space.
            package, _, features = text.rpartition(" ")
            name = package.split(" ", 1)[0]
            out.packages.setdefault(name, set()).update(f for f in features.split(",") if f)
            node = ("package", name)
        del stack[depth:]
        if node[0] == "feature" and stack:
            out.enablers.setdefault(node[1:], set()).add(stack[-1])
        stack.append(node)
    if not out.packages:
        raise AssertionError(f"cargo tree {' '.join(extra)} in {build_dir} printed no package")
    return out


def workspace_package_names() -> set[str]:
    return {p["name"] for p in infra.cargo_metadata()["packages"]}


def upstream_forced(g: Graph) -> set[str]:
    """The packages whose `test-util` only registry crates' own dependency declarations
    switch on (directly, or through `test-util` features switched on that way): no
    workspace package, and no feature anyone chose, enables it."""
    workspace = workspace_package_names()
    forced: set[tuple[str, str]] = set()
    changed = True
    while changed:
        changed = False
        for node, enablers in g.enablers.items():
            if node[1] != TEST_FEATURE or node in forced:
                continue
            if all(
                (e[0] == "package" and e[1] not in workspace) or (e[0] == "feature" and e[1:] in forced)
                for e in enablers
            ):
                forced.add(node)
                changed = True
    return {name for name, _ in forced}


def with_test_util(g: Graph) -> set[str]:
    return {name for name, features in g.packages.items() if TEST_FEATURE in features}


def enablers_of(g: Graph, names: set[str]) -> dict[str, list[str]]:
    """For diagnostics: who turns on `test-util` of each of `names`."""
    return {
        name: sorted(" ".join(e[1:]) for e in g.enablers.get((name, TEST_FEATURE), set()))
        for name in sorted(names)
    }


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_the_deployed_build_contains_no_test_crate(logical_id):
    build_dir = infra.code_uri(logical_id)
    found = sorted(TEST_CRATES & graph(build_dir).packages.keys())
    assert not found, (
        f"{logical_id}: `cargo lambda build --bin {infra.functions()[logical_id]}` in {build_dir} selects the "
        f"workspace's default-members, and their dependencies include the test crates {found}"
    )


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_the_deployed_build_switches_on_no_test_util_feature(logical_id):
    g = graph(infra.code_uri(logical_id))
    forced = upstream_forced(g)
    offending = with_test_util(g) - forced
    assert not offending, (
        f"{logical_id}: packages with `{TEST_FEATURE}` on in the deployed build: {sorted(offending)}; "
        f"enabled by: {enablers_of(g, offending)}"
    )
    unreviewed = forced - UPSTREAM_TEST_UTIL
    assert not unreviewed, (
        f"{logical_id}: a dependency switches on `{TEST_FEATURE}` of {sorted(unreviewed)} unconditionally "
        f"(enabled by: {enablers_of(g, unreviewed)}); drop that dependency, or, if that cannot be "
        "helped, add them to UPSTREAM_TEST_UTIL with the reason"
    )


def test_the_check_sees_the_test_crates_when_the_whole_workspace_is_selected():
    # The same graph with every member selected, as the test crates are when their
    # tests build: if these did not show up here, the tests above could not fail.
    g = graph(infra.ROOT, "--workspace")
    assert "aws-smithy-mocks" in g.packages, "cargo tree --workspace shows no aws-smithy-mocks: the check is blind"
    leaked = with_test_util(g) - upstream_forced(g)
    assert "turnstile" in leaked, (
        f"cargo tree --workspace: the test crates' `{TEST_FEATURE}` of turnstile is not told apart from the "
        f"upstream ones (flagged: {sorted(leaked)})"
    )


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_every_deployed_binary_is_built_by_a_default_member(logical_id):
    binary = infra.functions()[logical_id]
    metadata = infra.cargo_metadata(infra.code_uri(logical_id))
    defaults = set(metadata["workspace_default_members"])
    members = [p for p in metadata["packages"] if p["id"] in defaults]
    assert members, f"{logical_id}: cargo metadata in {infra.code_uri(logical_id)} lists no default member"
    owners = sorted(p["name"] for p in members if any(t["name"] == binary and "bin" in t["kind"] for t in p["targets"]))
    assert owners, (
        f"{logical_id}: no default member has a bin target {binary!r}, so `cargo lambda build --bin {binary}` "
        f"at the CodeUri would not build it (default members: {sorted(p['name'] for p in members)})"
    )
