//! Logging: `tracing` to stderr (journald picks it up under systemd), filtered by
//! `EXSTREAMTV_LOG`. Nothing is written to disk (SD-card wear).

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the global subscriber. An unparsable filter falls back to `info` with a warning.
pub fn init(filter: &str) {
    let (targets, bad) = match filter.parse::<Targets>() {
        Ok(t) => (t, false),
        Err(_) => ("info".parse::<Targets>().unwrap_or_default(), true),
    };
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(true);
    let _ = tracing_subscriber::registry()
        .with(fmt.with_filter(targets))
        .try_init();
    if bad {
        tracing::warn!(
            filter,
            "EXSTREAMTV_LOG is not a valid filter; logging at info"
        );
    }
}

use tracing_subscriber::Layer;
