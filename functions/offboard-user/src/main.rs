//! `offboard-user`: the Lambda binary. Everything but the wiring is in the domain crate.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    turnstile::run::<turnstile::Offboard>().await
}
