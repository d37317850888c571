use contacts::config::Settings;
use contacts::startup::{self, Application};
use service_kit::config::ServiceSettings;
use service_kit::{app, config, exit, shutdown};

/// mimalloc instead of glibc's malloc: a request allocates and frees a few hundred small objects
/// (headers, the boxed middleware futures, the log line), and glibc's slow paths for them were a
/// third of the user-space instructions of a cheap request; mimalloc cuts the instructions of
/// `GET /contacts/{id}` by about a fifth (see bench-results/). `no_thp`: no transparent huge pages
/// for its segments, which would otherwise double an idle service's resident memory.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Some(settings) = app::start::<Settings>()? else { return Ok(()) };
    match std::env::args().nth(1).as_deref() {
        None => {}
        Some("rebuild-projection") => {
            let contacts = exit::or_exit(Settings::SERVICE, startup::rebuild_projection(&settings).await);
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
    let app = exit::or_exit(Settings::SERVICE, Application::build(settings).await);
    tracing::info!(url = %app.public_url(), port = app.port(), "contacts listening");
    app.run_until_stopped(shutdown::on_signal()).await
}
