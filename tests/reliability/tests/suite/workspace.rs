//! Supply chain and lints (part 7 of the suite), checked offline on every test run;
//! cargo-deny itself runs from `scripts/check-deny.sh`.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// The `members` globs of the root manifest, expanded (`dir/*` only, as used here).
fn members(root: &Path) -> Vec<PathBuf> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("root manifest");
    let line = manifest
        .lines()
        .find(|l| l.trim_start().starts_with("members"))
        .expect("a members line");
    let list = &line[line.find('[').expect("[") + 1..line.rfind(']').expect("]")];
    let mut out = Vec::new();
    for entry in list
        .split(',')
        .map(|e| e.trim().trim_matches('"'))
        .filter(|e| !e.is_empty())
    {
        if let Some(dir) = entry.strip_suffix("/*") {
            for child in std::fs::read_dir(root.join(dir)).expect("member dir").flatten() {
                if child.path().join("Cargo.toml").exists() {
                    out.push(child.path());
                }
            }
        } else {
            out.push(root.join(entry));
        }
    }
    out.sort();
    out
}

/// Whether a manifest opts into the workspace lints (`[lints]` + `workspace = true`,
/// or `lints.workspace = true`).
fn inherits_lints(manifest: &str) -> bool {
    let mut in_lints = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_lints = line == "[lints]";
            continue;
        }
        let compact: String = line.chars().filter(|c| !c.is_whitespace()).collect();
        if (in_lints && compact == "workspace=true") || compact == "lints.workspace=true" {
            return true;
        }
    }
    false
}

#[test]
fn every_workspace_crate_inherits_the_workspace_lints_and_unsafe_code_is_forbidden() {
    let root = root();
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("root manifest");
    let forbid = manifest
        .split("[workspace.lints.rust]")
        .nth(1)
        .and_then(|s| s.split("\n[").next())
        .is_some_and(|section| {
            section
                .lines()
                .any(|l| l.chars().filter(|c| !c.is_whitespace()).collect::<String>() == "unsafe_code=\"forbid\"")
        });
    assert!(forbid, "[workspace.lints.rust] sets unsafe_code = \"forbid\"");
    let members = members(&root);
    assert!(members.len() >= 6, "{members:?}");
    let missing: Vec<String> = members
        .iter()
        .filter(|m| !inherits_lints(&std::fs::read_to_string(m.join("Cargo.toml")).expect("member manifest")))
        .map(|m| m.display().to_string())
        .collect();
    assert_eq!(
        missing,
        Vec::<String>::new(),
        "crates without `[lints] workspace = true`"
    );
}

#[test]
fn the_lockfile_has_no_legacy_hyper_or_rustls_stack() {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).expect("Cargo.lock");
    let mut banned = Vec::new();
    let mut name = "";
    for line in lock.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = n.trim_matches('"');
        } else if let Some(v) = line.strip_prefix("version = ") {
            let version = v.trim_matches('"');
            let major_minor = |at_least: (u64, u64)| {
                let mut parts = version.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
                let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
                (major, minor) < at_least
            };
            // The same list as deny.toml's [bans] deny.
            let legacy = match name {
                "hyper" | "http-body" => major_minor((1, 0)),
                "h2" => major_minor((0, 4)),
                "rustls" => major_minor((0, 22)),
                "hyper-rustls" | "tokio-rustls" => major_minor((0, 25)),
                "rustls-webpki" => major_minor((0, 102)),
                "ring" => major_minor((0, 17)),
                "webpki" | "openssl-sys" => true,
                _ => false,
            };
            if legacy {
                banned.push(format!("{name} {version}"));
            }
        }
    }
    assert_eq!(
        banned,
        Vec::<String>::new(),
        "deny.toml bans these (see scripts/check-deny.sh)"
    );
}

#[test]
fn deny_toml_checks_licenses_and_bans_the_legacy_stack() {
    let deny = std::fs::read_to_string(root().join("deny.toml")).expect("deny.toml");
    for needle in [
        "[licenses]",
        "[bans]",
        "multiple-versions = \"warn\"",
        "crate = \"hyper:<1.0.0\"",
        "crate = \"rustls:<0.22.0\"",
    ] {
        assert!(deny.contains(needle), "deny.toml has {needle}");
    }
}
