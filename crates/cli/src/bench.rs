//! placeholder
use std::process::ExitCode;
use clap::Args;
use zhiku_core::Config;
#[derive(Args)]
pub struct BenchArgs {}
pub async fn run(_config: Config, _args: BenchArgs) -> anyhow::Result<ExitCode> {
    Ok(ExitCode::SUCCESS)
}
