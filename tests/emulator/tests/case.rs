//! userNames and group names in another case. AWS does not document whether the
//! Identity Store compares them without regard to case, so the emulator plays both
//! (`case_insensitive_names`), and sync-group resolves a roster on two paths (a
//! GetUserId per name, or one ListUsers listing compared without regard to case, as the
//! contract asks). Every combination must leave the same memberships, keep them on
//! the next run, and never remove a member listed in another case.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use turnstile::testing;
use turnstile::{Service, SyncGroup};
use turnstile_emulator::{Emulator, Options};

const STORE: &str = "d-1234567890";

struct World {
    _emulator: Emulator,
    client: aws_sdk_identitystore::Client,
}

impl World {
    async fn start(case_insensitive_names: bool) -> Self {
        let emulator = Emulator::start(Options {
            case_insensitive_names,
            ..Options::default()
        })
        .await
        .expect("the emulator starts");
        let client = testing::local_client(&emulator.endpoint(), None).await;
        Self {
            _emulator: emulator,
            client,
        }
    }

    /// A fresh execution environment whose roster resolution is a listing (a small
    /// store) or one lookup per name (a store it believes large).
    fn service(&self, listing: bool) -> Service {
        let mut config = turnstile::Config::new(STORE);
        config.calls_per_second = 0;
        config.expected_store_users = if listing { 1 } else { 1_000_000 };
        Service::new(self.client.clone(), config)
    }

    async fn user(&self, name: &str) -> String {
        self.client
            .create_user()
            .identity_store_id(STORE)
            .user_name(name)
            .display_name(name)
            .name(
                aws_sdk_identitystore::types::Name::builder()
                    .given_name("G")
                    .family_name("F")
                    .build(),
            )
            .send()
            .await
            .expect("user")
            .user_id
    }

    async fn members(&self, group: &str) -> BTreeSet<String> {
        let groups = self
            .client
            .list_groups()
            .identity_store_id(STORE)
            .send()
            .await
            .expect("groups");
        let Some(group) = groups.groups().iter().find(|g| g.display_name() == Some(group)) else {
            return BTreeSet::new();
        };
        let memberships = self
            .client
            .list_group_memberships()
            .identity_store_id(STORE)
            .group_id(group.group_id())
            .send()
            .await
            .expect("memberships");
        let mut names = BTreeSet::new();
        for m in memberships.group_memberships() {
            let id = m.member_id().and_then(|m| m.as_user_id().ok()).expect("a user");
            let user = self
                .client
                .describe_user()
                .identity_store_id(STORE)
                .user_id(id)
                .send()
                .await
                .expect("user");
            names.insert(user.user_name().unwrap_or_default().to_owned());
        }
        names
    }
}

async fn sync(service: &Service, request: Value) -> Value {
    turnstile::handle::<SyncGroup>(service, testing::event(request))
        .await
        .map(|r| serde_json::to_value(r).expect("serializable"))
        .expect("the roster applies")
}

#[tokio::test]
async fn a_roster_in_another_case_ends_the_same_on_both_paths_and_both_service_rules_and_stays() {
    let mut outcomes = Vec::new();
    for case_insensitive in [false, true] {
        for listing in [false, true] {
            let world = World::start(case_insensitive).await;
            for name in ["alice.archer", "bob.baker", "carol.cook"] {
                world.user(name).await;
            }
            let set_up = json!({ "group": { "displayName": "Engineering" }, "members": ["alice.archer", "bob.baker"] });
            sync(&world.service(listing), set_up).await;

            // HR sends the same people in other cases, plus carol as stored.
            let roster = json!({
                "group": { "displayName": "Engineering" },
                "members": ["Alice.Archer", "BOB.BAKER", "carol.cook"],
                "mode": "replace",
                "maxRemovals": 0
            });
            let first = sync(&world.service(listing), roster.clone()).await;
            let after_first = world.members("Engineering").await;
            // The next run, on the other path, changes nothing.
            let second = sync(&world.service(!listing), roster).await;
            let after_second = world.members("Engineering").await;

            let label = format!("case-insensitive service: {case_insensitive}, listing: {listing}");
            assert_eq!(first["removed"], json!([]), "{label}: {first}");
            assert_eq!(first["added"], json!(["carol.cook"]), "{label}: {first}");
            assert_eq!(first["unresolved"], json!([]), "{label}: {first}");
            assert_eq!(second["status"], "unchanged", "{label}: {second}");
            assert_eq!(after_first, after_second, "{label}");
            outcomes.push((label, after_first));
        }
    }
    let want: BTreeSet<String> = ["alice.archer", "bob.baker", "carol.cook"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    for (label, members) in &outcomes {
        assert_eq!(members, &want, "{label}");
    }
}

#[tokio::test]
async fn a_roster_name_in_another_case_that_nobody_has_removes_nobody_on_either_path() {
    for listing in [false, true] {
        let world = World::start(false).await;
        world.user("dora.dane").await;
        sync(
            &world.service(listing),
            json!({ "group": { "displayName": "Ops" }, "members": ["dora.dane"] }),
        )
        .await;
        let result = sync(
            &world.service(listing),
            json!({ "group": { "displayName": "Ops" }, "members": ["Dora.Dane", "eve.nobody"], "maxRemovals": 0 }),
        )
        .await;
        assert_eq!(result["removed"], json!([]), "listing {listing}: {result}");
        assert_eq!(
            result["unresolved"],
            json!(["eve.nobody"]),
            "listing {listing}: {result}"
        );
        assert_eq!(world.members("Ops").await, BTreeSet::from(["dora.dane".to_owned()]));
    }
}
