use calendar::config::Settings;
use calendar::startup::Application;
use service_kit::config::ServiceSettings;
use service_kit::{app, exit, shutdown};

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
    let app = exit::or_exit(Settings::SERVICE, Application::build(settings).await);
    tracing::info!(url = %app.public_url(), port = app.port(), "calendar listening");
    app.run_until_stopped(shutdown::on_signal()).await
}
