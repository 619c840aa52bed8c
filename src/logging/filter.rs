//! `EXSTREAMTV_LOG`: which records are kept, as `tracing-subscriber`'s `Targets` spells it —
//! comma-separated directives, each `LEVEL` (the default) or `TARGET=LEVEL` (that target and
//! the modules under it; the longest matching target wins). Levels: trace, debug, info,
//! warn, error, off. A bare `TARGET` means trace. Without a bare level, other targets are off.
//! One exception: the audit log (target `audit`) keeps its INFO lines whatever the default
//! level, unless a directive names it (`warn,audit=warn`): quietening the server must not
//! silently drop the record of who changed what.

use tracing::level_filters::LevelFilter;

use super::AUDIT_TARGET;

/// More directives than anyone writes; a longer filter is refused.
const MAX_DIRECTIVES: usize = 32;

#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    default: LevelFilter,
    /// (target prefix, level), as written, then the audit floor unless a directive named it.
    /// One slot beyond `MAX_DIRECTIVES` holds that floor.
    targets: heapless::Vec<(String, LevelFilter), { MAX_DIRECTIVES + 1 }>,
}

#[derive(Debug, PartialEq)]
pub struct BadFilter;

impl Filter {
    /// Every target at `level`, the audit log at least at INFO.
    pub fn everything_at(level: LevelFilter) -> Filter {
        Filter {
            default: level,
            targets: heapless::Vec::new(),
        }
        .with_audit_floor()
    }

    pub fn parse(text: &str) -> Result<Filter, BadFilter> {
        let mut filter = Filter {
            default: LevelFilter::OFF,
            targets: heapless::Vec::new(),
        };
        for directive in text.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            match directive.split_once('=') {
                Some((target, level)) => {
                    let target = target.trim();
                    if target.is_empty() || !target.chars().all(is_target_char) {
                        return Err(BadFilter);
                    }
                    let entry = (target.to_string(), level_of(level.trim())?);
                    filter.targets.push(entry).map_err(|_| BadFilter)?;
                }
                None => match level_of(directive) {
                    Ok(level) => filter.default = level,
                    // Not a level: a target, on at every level.
                    Err(_) if directive.chars().all(is_target_char) => {
                        let entry = (directive.to_string(), LevelFilter::TRACE);
                        filter.targets.push(entry).map_err(|_| BadFilter)?;
                    }
                    Err(e) => return Err(e),
                },
            }
            if filter.targets.len() > MAX_DIRECTIVES {
                return Err(BadFilter);
            }
        }
        Ok(filter.with_audit_floor())
    }

    /// Keeps the audit log's INFO lines unless a directive set its level.
    fn with_audit_floor(mut self) -> Filter {
        if !self.targets.iter().any(|(t, _)| t == AUDIT_TARGET) {
            let floor = self.default.max(LevelFilter::INFO);
            // Cannot fail: parse refuses more than MAX_DIRECTIVES, one slot fewer than room.
            let _ = self.targets.push((AUDIT_TARGET.to_string(), floor));
        }
        self
    }

    /// Whether a record from `target` at `level` is kept.
    pub fn allows(&self, target: &str, level: tracing::Level) -> bool {
        let mut best: Option<(usize, LevelFilter)> = None;
        for (prefix, filter) in &self.targets {
            let matches = target
                .strip_prefix(prefix.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"));
            if matches && best.is_none_or(|(len, _)| prefix.len() > len) {
                best = Some((prefix.len(), *filter));
            }
        }
        best.map_or(self.default, |(_, filter)| filter) >= level
    }

    /// The most verbose level any directive keeps, so `tracing` skips the rest cheaply.
    pub fn max_level(&self) -> LevelFilter {
        self.targets
            .iter()
            .map(|(_, level)| *level)
            .fold(self.default, LevelFilter::max)
    }
}

fn level_of(text: &str) -> Result<LevelFilter, BadFilter> {
    match text.to_ascii_lowercase().as_str() {
        "trace" => Ok(LevelFilter::TRACE),
        "debug" => Ok(LevelFilter::DEBUG),
        "info" => Ok(LevelFilter::INFO),
        "warn" | "warning" => Ok(LevelFilter::WARN),
        "error" => Ok(LevelFilter::ERROR),
        "off" => Ok(LevelFilter::OFF),
        _ => Err(BadFilter),
    }
}

fn is_target_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn directives_select_targets_and_levels() {
        let f = Filter::parse("info").unwrap();
        assert!(f.allows("exstreamtv::http", Level::INFO));
        assert!(!f.allows("exstreamtv::http", Level::DEBUG));
        assert_eq!(f.max_level(), LevelFilter::INFO);

        let f = Filter::parse("warn, exstreamtv=debug ,exstreamtv::stream=error").unwrap();
        assert!(f.allows("exstreamtv::http", Level::DEBUG));
        assert!(!f.allows("exstreamtv::stream::ring", Level::WARN));
        assert!(f.allows("exstreamtv::stream::ring", Level::ERROR));
        assert!(!f.allows("hyper::proto", Level::INFO));
        assert!(f.allows("hyper::proto", Level::WARN));
        // A prefix must end at a module boundary.
        assert!(!f.allows("exstreamtvx", Level::INFO));
        assert_eq!(f.max_level(), LevelFilter::DEBUG);

        let f = Filter::parse("exstreamtv").unwrap();
        assert!(f.allows("exstreamtv", Level::TRACE));
        assert!(!f.allows("other", Level::ERROR));
        assert!(!Filter::parse("off").unwrap().allows("x", Level::ERROR));
        assert!(!Filter::parse("").unwrap().allows("x", Level::ERROR));
    }

    #[test]
    fn the_audit_log_keeps_info_unless_named() {
        for text in ["", "off", "warn", "error,exstreamtv=debug"] {
            let f = Filter::parse(text).unwrap();
            assert!(f.allows(AUDIT_TARGET, Level::INFO), "{text}");
            assert!(f.max_level() >= LevelFilter::INFO, "{text}");
        }
        assert!(!Filter::parse("warn")
            .unwrap()
            .allows(AUDIT_TARGET, Level::DEBUG));
        assert!(Filter::parse("debug")
            .unwrap()
            .allows(AUDIT_TARGET, Level::DEBUG));
        let quiet = Filter::parse("warn,audit=warn").unwrap();
        assert!(!quiet.allows(AUDIT_TARGET, Level::INFO));
        assert!(quiet.allows(AUDIT_TARGET, Level::WARN));
        assert!(!Filter::parse("audit=off")
            .unwrap()
            .allows(AUDIT_TARGET, Level::ERROR));
        assert!(Filter::everything_at(LevelFilter::WARN).allows(AUDIT_TARGET, Level::INFO));
        // The floor has its own slot: a filter of MAX_DIRECTIVES targets still parses.
        let many: Vec<String> = (0..MAX_DIRECTIVES).map(|i| format!("t{i}=info")).collect();
        assert!(Filter::parse(&many.join(",")).is_ok());
    }

    #[test]
    fn nonsense_is_refused() {
        for bad in ["x=loud", "=info", "a b", "x=info=debug", "ünïcode"] {
            assert_eq!(Filter::parse(bad), Err(BadFilter), "{bad}");
        }
        assert_eq!(Filter::parse(&"a,".repeat(40)), Err(BadFilter));
    }
}
