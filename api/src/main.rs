//! `api` runs the server; `api export-schema` prints the GraphQL SDL; `api bootstrap` creates the
//! root unit and the first system administrator of a new deployment; `api remove-demo-accounts`
//! deletes the demo accounts that still have the public password (see the README).

use api::{startup::Application, telemetry};
use service::{config::Settings, seed};

/// A request allocates many small, short-lived values (the GraphQL tree, rows, JSON); mimalloc
/// serves them with less work than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    if std::env::args().nth(1).as_deref() == Some("export-schema") {
        print!("{}", api::graphql::sdl());
        return std::process::ExitCode::SUCCESS;
    }
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let telemetry = telemetry::init(&settings);
    if std::env::args().nth(1).as_deref() == Some("bootstrap") {
        return bootstrap(settings).await;
    }
    if std::env::args().nth(1).as_deref() == Some("remove-demo-accounts") {
        return remove_demo_accounts(settings).await;
    }
    let demo = settings.seed_demo_data;
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = %e, "start-up failed");
            return std::process::ExitCode::FAILURE;
        }
    };
    if demo {
        print_demo_accounts(app.seeded_demo_data());
    }
    tracing::info!(port = app.port(), "listening");
    let stopped = app.run_until_stopped().await;
    // The spans of the last requests go out before the process ends.
    telemetry.shutdown();
    match stopped {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server stopped with an error");
            std::process::ExitCode::FAILURE
        }
    }
}

fn print_demo_accounts(just_loaded: bool) {
    println!();
    println!(
        "Demo data {} — accounts (password for all: {}):",
        if just_loaded { "loaded" } else { "present" },
        seed::DEMO_PASSWORD
    );
    for a in seed::DEMO_ACCOUNTS {
        println!("  {:<14} {:<14} {:<22} {}", a.role, a.phone, a.name, a.unit_code.unwrap_or("-"));
    }
    println!();
}

async fn remove_demo_accounts(settings: Settings) -> std::process::ExitCode {
    let state = match api::startup::connect(settings).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("remove-demo-accounts: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match seed::remove_demo_accounts(&state).await {
        Ok(removed) if removed.is_empty() => {
            println!("no demo account with the public password: nothing to remove");
            std::process::ExitCode::SUCCESS
        }
        Ok(removed) => {
            println!("removed the demo accounts {} (their records stay, anonymous)", removed.join(", "));
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("remove-demo-accounts: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn bootstrap(settings: Settings) -> std::process::ExitCode {
    let input = match service::bootstrap::Bootstrap::from_env() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("bootstrap: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let state = match api::startup::connect(settings).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bootstrap: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match service::bootstrap::run(&state, input).await {
        Ok(done) => {
            println!("{done}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            match &e {
                service::error::ApiError::BadInput { field, .. } => {
                    eprintln!("bootstrap failed: {field}: {}", e.message(service::error::Lang::En))
                }
                _ => eprintln!("bootstrap failed: {}", e.message(service::error::Lang::En)),
            }
            std::process::ExitCode::FAILURE
        }
    }
}
