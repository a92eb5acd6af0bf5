//! The `gereport` command: serve, migrate, create an admin, load the demo department,
//! print the OpenAPI document.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gereport::config::Settings;

/// mimalloc returns freed memory to the system: the glibc allocator keeps the 19 MiB
/// argon2 blocks of a login burst fragmented across its arenas for good (2.8 GB held
/// after a flood, against tens of MB with mimalloc).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Create an admin account scoped to the root unit. The password comes from
    /// GEREPORT_ADMIN_PASSWORD, or is asked for on the terminal.
    CreateAdmin {
        #[arg(long)]
        username: String,
    },
    /// Load the demo department: units, users (password from GEREPORT_DEMO_PASSWORD,
    /// default demo-password-2024) and the 2024 plan with reports. Safe to run twice;
    /// refused when GEREPORT_ENV=production.
    Demo {
        /// Also make the 2025 plan by copying the 2024 one (as POST /plans/{id}/copy
        /// does), with the national 2025 target of Resolution 28/NQ-CP beside the
        /// plan's own.
        #[arg(long)]
        next_year: bool,
    },
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
    if matches!(cli.command, Command::Serve)
        && let Err(e) = settings.require_jwt_secret()
    {
        eprintln!("gereport: configuration error: {e}");
        return ExitCode::from(EXIT_CONFIG);
    }
    gereport::telemetry::init(settings.log_format);

    let result = match cli.command {
        Command::Serve => serve(settings).await,
        Command::Migrate => migrate(&settings).await.map(|_| ()),
        Command::Openapi => Ok(()),
        Command::CreateAdmin { username } => create_admin(&settings, &username).await,
        Command::Demo { next_year } => demo(&settings, next_year).await,
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

/// Migrates as the owner role (`GEREPORT_MIGRATE_DATABASE_URL`, else `DATABASE_URL`),
/// then gives the serving role (`GEREPORT_APP_ROLE`) what it needs and no more.
async fn migrate(settings: &Settings) -> anyhow::Result<Vec<String>> {
    let url = settings.migrate_url();
    let applied = gereport::db::run_migrations(url).await?;
    if applied.is_empty() {
        tracing::info!("database schema is up to date");
    } else {
        tracing::info!(applied = ?applied, "applied migrations");
    }
    if let Some(role) = &settings.app_role {
        use diesel_async::AsyncConnection;
        let mut conn = diesel_async::AsyncPgConnection::establish(url).await?;
        gereport::db::grant_serving_role(&mut conn, role).await?;
        tracing::info!(role = %role, "serving role granted its privileges");
    }
    Ok(applied)
}

async fn connect(settings: &Settings) -> anyhow::Result<diesel_async::AsyncPgConnection> {
    use diesel_async::AsyncConnection;
    migrate(settings).await?;
    Ok(diesel_async::AsyncPgConnection::establish(&settings.database_url).await?)
}

fn read_password() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("GEREPORT_ADMIN_PASSWORD") {
        return Ok(p);
    }
    eprint!("Password for the new admin (at least 12 characters; input is shown): ");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

async fn create_admin(settings: &Settings, username: &str) -> anyhow::Result<()> {
    let password = read_password()?;
    let mut conn = connect(settings).await?;
    let created = gereport::demo::create_admin(&mut conn, username, password)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.detail))?;
    if created {
        println!("admin {username} created");
    } else {
        println!("a user named {username} already exists; nothing changed");
    }
    Ok(())
}

async fn demo(settings: &Settings, next_year: bool) -> anyhow::Result<()> {
    if settings.environment == gereport::config::Environment::Production {
        anyhow::bail!("the demo department is not loaded when GEREPORT_ENV=production");
    }
    let password = std::env::var("GEREPORT_DEMO_PASSWORD")
        .unwrap_or_else(|_| gereport::demo::DEFAULT_DEMO_PASSWORD.to_string());
    let mut conn = connect(settings).await?;
    let summary = gereport::demo::load(&mut conn, &password)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.detail))?;
    println!(
        "demo department ready: {} units, {} users created, 2024 plan {} (password: the value of GEREPORT_DEMO_PASSWORD, default {})",
        summary.units,
        summary.users_created,
        if summary.plan_created {
            "loaded"
        } else {
            "already present"
        },
        gereport::demo::DEFAULT_DEMO_PASSWORD
    );
    if next_year {
        match gereport::demo_2025::load(&mut conn)
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.detail))?
        {
            Some(made) => println!(
                "2025 plan {} copied from 2024 ({}), with the Resolution 28/NQ-CP target beside the plan's own",
                made.plan_id,
                made.copied
                    .iter()
                    .map(|p| format!("{} {}", p.count, p.part))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => println!("2025 plan already present"),
        }
    }
    Ok(())
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
