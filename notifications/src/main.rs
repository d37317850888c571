use notifications::config::Settings;
use notifications::startup::Application;
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
    let settings = config::exit_on_error("notifications", Settings::from_env());
    telemetry::init(settings.common.log_format, &settings.common.log_filter);
    tracing::info!(?settings, "starting notifications");
    let app = Application::build(settings).await?;
    tracing::info!(url = %app.public_url(), port = app.port(), "notifications listening");
    app.run_until_stopped(shutdown::on_signal()).await
}
