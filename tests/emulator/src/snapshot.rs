//! The emulator's store by names: users with their attributes, groups with their
//! descriptions, memberships as `(group displayName, userName)`, and any duplicates.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// A store's content, independent of ids, sequence numbers and timestamps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// userName → the user's API attributes.
    pub users: BTreeMap<String, Value>,
    /// displayName → description.
    pub groups: BTreeMap<String, Option<String>>,
    /// `(group displayName, userName)`.
    pub memberships: BTreeSet<(String, String)>,
    /// userNames held by more than one user.
    pub duplicate_users: Vec<String>,
    /// displayNames held by more than one group.
    pub duplicate_groups: Vec<String>,
    /// Pairs stored more than once.
    pub duplicate_memberships: Vec<(String, String)>,
    /// Memberships whose group or user does not exist.
    pub dangling_memberships: usize,
}

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

impl Snapshot {
    /// From the emulator's `GET /_admin/state?full=true`.
    pub fn from_full_state(state: &Value) -> Self {
        let mut snapshot = Self::default();
        let empty = serde_json::Map::new();
        let users = state.get("users").and_then(Value::as_object).unwrap_or(&empty);
        let groups = state.get("groups").and_then(Value::as_object).unwrap_or(&empty);
        let memberships = state.get("memberships").and_then(Value::as_object).unwrap_or(&empty);

        let mut user_names = BTreeMap::new();
        for (id, record) in users {
            let attributes = record.get("attributes").cloned().unwrap_or(Value::Null);
            let name = text(&attributes, "UserName").unwrap_or_default();
            if snapshot.users.insert(name.clone(), attributes).is_some() {
                snapshot.duplicate_users.push(name.clone());
            }
            user_names.insert(id.clone(), name);
        }
        let mut group_names = BTreeMap::new();
        for (id, record) in groups {
            let attributes = record.get("attributes").cloned().unwrap_or(Value::Null);
            let name = text(&attributes, "DisplayName").unwrap_or_default();
            if snapshot
                .groups
                .insert(name.clone(), text(&attributes, "Description"))
                .is_some()
            {
                snapshot.duplicate_groups.push(name.clone());
            }
            group_names.insert(id.clone(), name);
        }
        for membership in memberships.values() {
            let group = text(membership, "group_id").and_then(|id| group_names.get(&id).cloned());
            let user = text(membership, "user_id").and_then(|id| user_names.get(&id).cloned());
            match (group, user) {
                (Some(group), Some(user)) => {
                    let pair = (group, user);
                    if !snapshot.memberships.insert(pair.clone()) {
                        snapshot.duplicate_memberships.push(pair);
                    }
                }
                _ => snapshot.dangling_memberships += 1,
            }
        }
        snapshot
    }

    /// The userNames in `group`.
    pub fn members(&self, group: &str) -> BTreeSet<String> {
        self.memberships
            .iter()
            .filter(|(g, _)| g == group)
            .map(|(_, u)| u.clone())
            .collect()
    }

    /// The groups `user` is in.
    pub fn groups_of(&self, user: &str) -> BTreeSet<String> {
        self.memberships
            .iter()
            .filter(|(_, u)| u == user)
            .map(|(g, _)| g.clone())
            .collect()
    }

    /// Duplicates and dangling memberships: what must never exist.
    pub fn anomalies(&self) -> usize {
        self.duplicate_users.len()
            + self.duplicate_groups.len()
            + self.duplicate_memberships.len()
            + self.dangling_memberships
    }

    /// How `self` (the state reached) differs from `expected`, one line per difference.
    pub fn differences(&self, expected: &Self) -> Differences {
        let mut d = Differences::default();
        for (name, attributes) in &expected.users {
            match self.users.get(name) {
                None => d.lines.push(format!("missing user {name}")),
                Some(got) if got != attributes => {
                    d.attribute_mismatches += 1;
                    d.lines
                        .push(format!("user {name}: attributes {got} instead of {attributes}"));
                }
                Some(_) => {}
            }
        }
        d.missing_users = expected.users.keys().filter(|n| !self.users.contains_key(*n)).count();
        for name in self.users.keys().filter(|n| !expected.users.contains_key(*n)) {
            d.extra_users += 1;
            d.lines.push(format!("extra user {name}"));
        }
        for (name, description) in &expected.groups {
            match self.groups.get(name) {
                None => d.lines.push(format!("missing group {name}")),
                Some(got) if got != description => d.lines.push(format!("group {name}: description {got:?}")),
                Some(_) => {}
            }
        }
        for name in self.groups.keys().filter(|n| !expected.groups.contains_key(*n)) {
            d.lines.push(format!("extra group {name}"));
        }
        for pair in expected.memberships.difference(&self.memberships) {
            d.lost_memberships += 1;
            d.lines.push(format!("lost membership {pair:?}"));
        }
        for pair in self.memberships.difference(&expected.memberships) {
            d.extra_memberships += 1;
            d.lines.push(format!("extra membership {pair:?}"));
        }
        if self.anomalies() > 0 {
            d.lines.push(format!(
                "duplicates: users {:?}, groups {:?}, memberships {:?}; dangling memberships {}",
                self.duplicate_users, self.duplicate_groups, self.duplicate_memberships, self.dangling_memberships
            ));
        }
        d
    }
}

/// What [`Snapshot::differences`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Differences {
    pub lines: Vec<String>,
    pub missing_users: usize,
    pub extra_users: usize,
    pub attribute_mismatches: usize,
    pub lost_memberships: usize,
    pub extra_memberships: usize,
}

impl Differences {
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}
