//! contacts' settings: the shared ones plus its own, all from the environment.

use serde::Deserialize;
use service_kit::config::{CommonSettings, ConfigError, ServiceSettings};

/// Default port, as in the original contacts app.
pub const DEFAULT_PORT: u16 = 3000;

#[derive(Debug, Clone)]
pub struct Settings {
    pub common: CommonSettings,
    /// `FEED_PAGE_SIZE`: events per archive page (default 20).
    pub feed_page_size: u32,
}

#[derive(Debug, Deserialize)]
pub struct Env {
    feed_page_size: Option<u32>,
}

impl ServiceSettings for Settings {
    const SERVICE: &'static str = "contacts";
    const DEFAULT_PORT: u16 = DEFAULT_PORT;
    type Env = Env;

    fn common(&self) -> &CommonSettings {
        &self.common
    }

    fn resolve(common: CommonSettings, env: Env) -> Result<Self, ConfigError> {
        let feed_page_size = env.feed_page_size.unwrap_or(20);
        if !(1..=1000).contains(&feed_page_size) {
            return Err(ConfigError::invalid(
                "FEED_PAGE_SIZE",
                "a number from 1 to 1000",
                &feed_page_size.to_string(),
            ));
        }
        Ok(Self { common, feed_page_size })
    }
}

impl Settings {
    /// Settings for a test instance on a free port with the given database.
    pub fn for_tests(database_url: &str) -> Self {
        Self { common: CommonSettings::for_tests("contacts", database_url), feed_page_size: 20 }
    }
}
