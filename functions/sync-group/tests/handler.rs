//! sync-group, driven by the JSON fixtures in both event forms, against a mocked
//! Identity Store client.

use aws_sdk_identitystore::Client;
use aws_sdk_identitystore::operation::get_group_id::GetGroupIdError;
use aws_sdk_identitystore::operation::get_user_id::GetUserIdError;
use aws_smithy_mocks::{Rule, mock};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use turnstile::testing::{self, out};

const FORMS: [&str; 2] = ["", ".envelope"];

async fn invoke(rules: &[&Rule], fixture: &str) -> Result<Value, lambda_runtime::Diagnostic> {
    let service = testing::service(rules);
    turnstile::handle::<turnstile::SyncGroup>(&service, testing::event(testing::fixture(fixture)))
        .await
        .map(|result| serde_json::to_value(result).expect("serializable"))
        .map_err(Into::into)
}

fn unique_value(r: &aws_sdk_identitystore::types::AlternateIdentifier) -> Option<&str> {
    r.as_unique_attribute()
        .ok()
        .and_then(|u| u.attribute_value().as_string())
}

fn user(name: &'static str, id: Option<&'static str>) -> Rule {
    let rule = mock!(Client::get_user_id)
        .match_requests(move |r| r.alternate_identifier().and_then(unique_value) == Some(name));
    match id {
        Some(id) => rule.then_output(move || out::user_id(id)),
        None => rule.then_error(|| GetUserIdError::ResourceNotFoundException(testing::not_found())),
    }
}

/// The Engineering group as stored: its description and members `(membership, user)`.
fn engineering(members: &'static [(&'static str, &'static str)]) -> [Rule; 3] {
    [
        mock!(Client::get_group_id).then_output(|| out::group_id("group-eng")),
        mock!(Client::describe_group)
            .then_output(|| out::described_group("group-eng", "Engineering", Some("Everyone in engineering"))),
        mock!(Client::list_group_memberships).then_output(move || {
            out::memberships_of_group(
                members
                    .iter()
                    .map(|(m, u)| out::membership(m, "group-eng", u))
                    .collect(),
                None,
            )
        }),
    ]
}

/// The Engineering group's lookup and listing only (no DescribeGroup: the request
/// gives no description).
fn engineering_without_description(members: &'static [(&'static str, &'static str)]) -> [Rule; 2] {
    let [lookup, _, listing] = engineering(members);
    [lookup, listing]
}

struct Writes {
    add: Rule,
    remove: Rule,
    create_group: Rule,
    update_group: Rule,
}

fn writes() -> Writes {
    Writes {
        add: mock!(Client::create_group_membership).then_output(|| out::created_membership("m-new")),
        remove: mock!(Client::delete_group_membership).then_output(out::deleted_membership),
        create_group: mock!(Client::create_group).then_output(|| out::created_group("group-platform")),
        update_group: mock!(Client::update_group).then_output(|| out::updated_group("group-eng")),
    }
}

impl Writes {
    fn rules(&self) -> [&Rule; 4] {
        [&self.add, &self.remove, &self.create_group, &self.update_group]
    }

    fn counts(&self) -> (usize, usize, usize, usize) {
        (
            self.add.num_calls(),
            self.remove.num_calls(),
            self.create_group.num_calls(),
            self.update_group.num_calls(),
        )
    }
}

const ALICE_AND_CAROL: &[(&str, &str)] = &[("m-alice", "user-alice"), ("m-carol", "user-carol")];

fn replace_rules() -> ([Rule; 3], [Rule; 3], Rule, Writes) {
    (
        engineering(ALICE_AND_CAROL),
        [
            user("alice.archer", Some("user-alice")),
            user("bob.baker", Some("user-bob")),
            user("nobody.known", None),
        ],
        mock!(Client::describe_user)
            .match_requests(|r| r.user_id() == Some("user-carol"))
            .then_output(|| out::described_user("user-carol", "carol.cook").build().unwrap()),
        writes(),
    )
}

#[tokio::test]
async fn replace_writes_exactly_the_diff_and_lists_unresolved_members() {
    for form in FORMS {
        let (group, users, carol, writes) = replace_rules();
        let mut rules: Vec<&Rule> = group.iter().chain(&users).chain([&carol]).collect();
        rules.extend(writes.rules());

        let result = invoke(&rules, &format!("sync-group/replace{form}.json")).await.unwrap();

        assert_eq!(
            result,
            json!({
                "groupId": "group-eng",
                "displayName": "Engineering",
                "status": "updated",
                "dryRun": false,
                "added": ["bob.baker"],
                "removed": ["carol.cook"],
                "unchanged": 1,
                "unresolved": ["nobody.known"]
            })
        );
        assert_eq!(writes.counts(), (1, 1, 0, 0));
    }
}

#[tokio::test]
async fn a_dry_run_returns_the_plan_and_writes_nothing() {
    for form in FORMS {
        let (group, users, carol, writes) = replace_rules();
        let mut rules: Vec<&Rule> = group.iter().chain(&users).chain([&carol]).collect();
        rules.extend(writes.rules());

        let result = invoke(&rules, &format!("sync-group/dry-run{form}.json")).await.unwrap();

        assert_eq!(
            result,
            json!({
                "groupId": "group-eng",
                "displayName": "Engineering",
                "status": "planned",
                "dryRun": true,
                "added": ["bob.baker"],
                "removed": ["carol.cook"],
                "unchanged": 1,
                "unresolved": ["nobody.known"]
            })
        );
        assert_eq!(writes.counts(), (0, 0, 0, 0));
    }
}

#[tokio::test]
async fn a_missing_group_is_created_with_its_members() {
    for form in FORMS {
        let missing =
            mock!(Client::get_group_id).then_error(|| GetGroupIdError::ResourceNotFoundException(testing::not_found()));
        let users = [
            user("alice.archer", Some("user-alice")),
            user("bob.baker", Some("user-bob")),
        ];
        let writes = writes();
        let create_group = mock!(Client::create_group)
            .match_requests(|r| r.display_name() == Some("Platform") && r.description() == Some("The platform team"))
            .then_output(|| out::created_group("group-platform"));
        let list = mock!(Client::list_group_memberships).then_output(|| out::memberships_of_group(vec![], None));
        let mut rules: Vec<&Rule> = vec![&missing, &users[0], &users[1], &create_group, &list];
        rules.extend(writes.rules());

        let result = invoke(&rules, &format!("sync-group/new-group{form}.json"))
            .await
            .unwrap();

        assert_eq!(
            result,
            json!({
                "groupId": "group-platform",
                "displayName": "Platform",
                "status": "created",
                "dryRun": false,
                "added": ["alice.archer", "bob.baker"],
                "removed": [],
                "unchanged": 0,
                "unresolved": []
            })
        );
        assert_eq!(create_group.num_calls(), 1);
        // A group this call created has no members to list.
        assert_eq!(list.num_calls(), 0);
        assert_eq!(writes.counts(), (2, 0, 0, 0));
    }
}

#[tokio::test]
async fn a_roster_that_already_matches_is_unchanged_and_writes_nothing() {
    for form in FORMS {
        let group = engineering(&[("m-alice", "user-alice"), ("m-bob", "user-bob")]);
        let users = [
            user("alice.archer", Some("user-alice")),
            user("bob.baker", Some("user-bob")),
        ];
        let writes = writes();
        let mut rules: Vec<&Rule> = group.iter().chain(&users).collect();
        rules.extend(writes.rules());

        let result = invoke(&rules, &format!("sync-group/unchanged{form}.json"))
            .await
            .unwrap();

        assert_eq!(
            result,
            json!({
                "groupId": "group-eng",
                "displayName": "Engineering",
                "status": "unchanged",
                "dryRun": false,
                "added": [],
                "removed": [],
                "unchanged": 2,
                "unresolved": []
            })
        );
        assert_eq!(writes.counts(), (0, 0, 0, 0));
    }
}

#[tokio::test]
async fn removing_from_a_group_that_does_not_exist_is_not_found() {
    for form in FORMS {
        let missing =
            mock!(Client::get_group_id).then_error(|| GetGroupIdError::ResourceNotFoundException(testing::not_found()));
        let writes = writes();
        let mut rules: Vec<&Rule> = vec![&missing];
        rules.extend(writes.rules());

        let result = invoke(&rules, &format!("sync-group/remove-missing-group{form}.json"))
            .await
            .unwrap();

        assert_eq!(
            result,
            json!({
                "groupId": null,
                "displayName": "Disbanded",
                "status": "notFound",
                "dryRun": false,
                "added": [],
                "removed": [],
                "unchanged": 0,
                "unresolved": []
            })
        );
        assert_eq!(writes.counts(), (0, 0, 0, 0));
    }
}

#[tokio::test]
async fn a_plan_removing_more_than_max_removals_is_blocked_before_any_write() {
    for form in FORMS {
        let group = engineering_without_description(ALICE_AND_CAROL);
        let writes = writes();
        let mut rules: Vec<&Rule> = group.iter().collect();
        rules.extend(writes.rules());

        let error = invoke(&rules, &format!("sync-group/max-removals{form}.json"))
            .await
            .unwrap_err();

        assert_eq!(error.error_type, "MassRemovalBlocked");
        assert_eq!(
            error.error_message,
            "the plan removes 2 member(s), more than maxRemovals (1); nothing was written"
        );
        assert_eq!(writes.counts(), (0, 0, 0, 0));
    }
}

#[tokio::test]
async fn a_dry_run_over_max_removals_previews_the_blocked_plan_and_writes_nothing() {
    for form in FORMS {
        let [lookup, listing] = engineering_without_description(ALICE_AND_CAROL);
        let group = [
            lookup,
            listing,
            mock!(Client::describe_user)
                .match_requests(|r| r.user_id() == Some("user-alice"))
                .then_output(|| out::described_user("user-alice", "alice.archer").build().unwrap()),
            mock!(Client::describe_user)
                .match_requests(|r| r.user_id() == Some("user-carol"))
                .then_output(|| out::described_user("user-carol", "carol.cook").build().unwrap()),
        ];
        let writes = writes();
        let mut rules: Vec<&Rule> = group.iter().collect();
        rules.extend(writes.rules());

        let result = invoke(&rules, &format!("sync-group/max-removals.dry-run{form}.json"))
            .await
            .unwrap();

        assert_eq!(
            result,
            json!({
                "groupId": "group-eng",
                "displayName": "Engineering",
                "status": "planned",
                "dryRun": true,
                "added": [],
                "removed": ["alice.archer", "carol.cook"],
                "unchanged": 0,
                "unresolved": [],
                "blocked": true
            })
        );
        assert_eq!(writes.counts(), (0, 0, 0, 0));
    }
}
