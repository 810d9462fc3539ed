//! A store to count calls against: the emulator in-process, with setup helpers that
//! write through the SDK directly (so setup is not counted once counters are reset).

use aws_sdk_identitystore::Client;
use aws_sdk_identitystore::types::{MemberId, Name};
use turnstile::{Config, Service};
use turnstile_emulator::admin::Admin;
use turnstile_emulator::{Counters, Emulator, Options};

pub const STORE: &str = "d-1234567890";

/// An emulator on 127.0.0.1, an SDK client for it, and its admin API.
pub struct Bench {
    _emulator: Emulator,
    pub client: Client,
    pub admin: Admin,
}

impl Bench {
    pub async fn start() -> Self {
        let emulator = Emulator::start(Options::default()).await.expect("emulator");
        let client = turnstile::testing::local_client(&emulator.endpoint(), None).await;
        let admin = Admin::new(emulator.addr);
        Self {
            _emulator: emulator,
            client,
            admin,
        }
    }

    pub fn service(&self, adjust: impl FnOnce(&mut Config)) -> Service {
        let mut config = Config::new(STORE);
        adjust(&mut config);
        Service::new(self.client.clone(), config)
    }

    pub async fn user(&self, name: &str) -> String {
        self.client
            .create_user()
            .identity_store_id(STORE)
            .user_name(name)
            .display_name(name)
            .name(Name::builder().given_name("G").family_name("F").build())
            .send()
            .await
            .expect("user")
            .user_id
    }

    pub async fn group(&self, name: &str) -> String {
        self.client
            .create_group()
            .identity_store_id(STORE)
            .display_name(name)
            .send()
            .await
            .expect("group")
            .group_id
    }

    pub async fn member(&self, group: &str, user: &str) {
        self.client
            .create_group_membership()
            .identity_store_id(STORE)
            .group_id(group)
            .member_id(MemberId::UserId(user.to_owned()))
            .send()
            .await
            .expect("membership");
    }

    /// Counts from here on.
    pub async fn count_from_now(&self) {
        self.admin.reset_counters().await.expect("counters reset");
    }

    pub async fn counters(&self) -> Counters {
        self.admin.counters().await.expect("counters")
    }
}
