use calendar::config::Settings;
use calendar::startup::Application;
use service_kit::{config, shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("--variables") {
        // One name a line: what a deployment may set (the Kubernetes checks read this).
        return config::print_variables(&Settings::variables());
    }
    let settings = config::exit_on_error("calendar", Settings::from_env());
    telemetry::init(settings.common.log_format, &settings.common.log_filter);
    tracing::info!(?settings, "starting calendar");
    let app = Application::build(settings).await?;
    tracing::info!(url = %app.public_url(), port = app.port(), "calendar listening");
    app.run_until_stopped(shutdown::on_signal()).await
}
