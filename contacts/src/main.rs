use contacts::config::Settings;
use contacts::startup::{self, Application};
use service_kit::{config, shutdown, telemetry};

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
