//! The `gereport` command: serve, migrate, create an admin, load the demo department,
//! print the OpenAPI document.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gereport::config::Settings;

#[derive(Parser)]
#[command(
    name = "gereport",
    version,
    about = "Gender-equality reporting service: units submit periodic reports, the coordinating office reviews and compiles them",
    long_about = None
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending database migrations, then serve the HTTP API on GEREPORT_BIND.
    /// SIGTERM drains in-flight requests before exiting.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI 3.1 document (as checked into openapi/openapi.json).
    Openapi,
}

/// Exit code for a configuration problem, distinct from a runtime failure (1).
const EXIT_CONFIG: u8 = 2;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Openapi = cli.command {
        return match gereport::openapi::document_json() {
            Ok(doc) => {
                print!("{doc}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        };
    }

    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("gereport: configuration error: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    gereport::telemetry::init(settings.log_format);

    let result = match cli.command {
        Command::Serve => serve(settings).await,
        Command::Migrate => migrate(&settings).await.map(|_| ()),
        Command::Openapi => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(e: &anyhow::Error) -> ExitCode {
    eprintln!("gereport: {e:#}");
    ExitCode::FAILURE
}

async fn migrate(settings: &Settings) -> anyhow::Result<Vec<String>> {
    let applied = gereport::db::run_migrations(&settings.database_url).await?;
    if applied.is_empty() {
        tracing::info!("database schema is up to date");
    } else {
        tracing::info!(applied = ?applied, "applied migrations");
    }
    Ok(applied)
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    migrate(&settings).await?;
    let bind = settings.bind;
    let app = gereport::Application::build(settings).await?;
    tracing::info!(%bind, port = app.port(), "serving");
    app.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}
