use contacts::config::Settings;
use contacts::startup::{self, Application};
use service_kit::{config, shutdown, telemetry};

/// mimalloc instead of glibc's malloc: a request allocates and frees a few hundred small objects
/// (headers, the boxed middleware futures, the log line), and glibc's slow paths for them were a
/// third of the user-space instructions of a cheap request; mimalloc cuts the instructions of
/// `GET /contacts/{id}` by about a fifth (see bench-results/). `no_thp`: no transparent huge pages
/// for its segments, which would otherwise double an idle service's resident memory.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("--variables") {
        // One name a line: what a deployment may set (the Kubernetes checks read this).
        return config::print_variables(&Settings::variables());
    }
    let settings = config::exit_on_error("contacts", Settings::from_env());
    telemetry::init(settings.common.log_format, &settings.common.log_filter);
    match std::env::args().nth(1).as_deref() {
        None => {}
        Some("rebuild-projection") => {
            let contacts = startup::rebuild_projection(&settings).await?;
            tracing::info!(contacts, "read model rebuilt from the event log");
            return Ok(());
        }
        Some(other) => {
            eprintln!(
                "contacts: unknown command {other:?} (run without arguments, or: rebuild-projection, --variables)"
            );
            std::process::exit(config::CONFIG_EXIT_CODE);
        }
    }
    tracing::info!(?settings, "starting contacts");
    let app = Application::build(settings).await?;
    tracing::info!(url = %app.public_url(), port = app.port(), "contacts listening");
    app.run_until_stopped(shutdown::on_signal()).await
}
