//! `billing-local`: runs the local billing server until Ctrl-C (see
//! `scripts/dev`, which sets its environment).

use billing_lambda::{logging, Env};
use billing_local::{start, DevAuth, LocalConfig};
use std::path::PathBuf;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    logging::init();
    let repo_root = std::env::var_os("BILLING_REPO_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")));
    let config = LocalConfig::from_env(&Env::from_process(), &repo_root)?;
    let mut stack = start(config, DevAuth::development()?).await?;
    let base = stack.base_url.clone();
    println!("billing-local ready on {base}");
    println!("  billing page   {base}/");
    println!("  plans          {base}/billing/plans");
    println!("  OpenAPI        {base}/openapi.json");
    println!("  webhooks       {base}/billing/webhooks/{{stripe,sandbox}}");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {
            println!("stopping");
            stack.stop().await;
        }
        _ = stack.wait() => {}
    }
    Ok(())
}
