//! The `rapport` server with the tests' job kinds (`rapport_tests::jobs`): what the
//! multi-instance job test starts as separate processes, and kills.

use std::sync::Arc;

use clap::Parser;
use rapport_domain::clock::SystemClock;
use rapport_server::config::{ConfigArgs, Settings};
use rapport_server::startup::Application;

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    config: ConfigArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load(&cli.config)?;
    rapport_server::telemetry::init(&settings.log, false);
    let handlers = rapport_tests::jobs::handlers();
    let app = Application::build_with_jobs(&settings, Arc::new(SystemClock), handlers).await?;
    app.run().await
}
