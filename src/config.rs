//! Bootstrap settings: command-line flags and `EXSTREAMTV_*` environment variables.
//! Everything a user changes at run time lives in SQLite (`api::settings`), not here.
//! Flags beat the environment; the environment beats the defaults.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

pub const DEFAULT_LISTEN: &str = "0.0.0.0:8411";
pub const DEFAULT_DISCOVERY_PORT: u16 = 65001;
pub const DEFAULT_SSDP_PORT: u16 = 1900;
/// The HDHomeRun tuner count is capped here and in the settings API (1–16).
pub const MAX_TUNERS: u16 = 16;

pub const HELP: &str = "\
exstreamtv — live TV channels from a media library (HDHomeRun tuner, M3U, XMLTV)

Usage:
  exstreamtv [serve] [OPTIONS]   run the server (the default)
  exstreamtv doctor [OPTIONS]    check FFmpeg, hardware encoders, ports and the data dir
  exstreamtv --version | --help

Options (environment variable in brackets):
  --listen HOST:PORT      HTTP address [EXSTREAMTV_LISTEN] (default 0.0.0.0:8411)
  --data DIR              data directory; the database is DIR/exstreamtv.db [EXSTREAMTV_DATA] (default ./data)
  --media DIR             a media folder to serve; repeatable [EXSTREAMTV_MEDIA, colon-separated]
  --tuners N              simultaneous channels, 1-16 [EXSTREAMTV_TUNERS] (default: the board's)
  --discovery-port PORT   HDHomeRun UDP discovery port, 0 disables [EXSTREAMTV_DISCOVERY_PORT] (default 65001)
  --ssdp-port PORT        SSDP (UPnP) port, 0 disables [EXSTREAMTV_SSDP_PORT] (default 1900)
  --base-url URL          public base URL for emitted links [EXSTREAMTV_BASE_URL] (default: the request's Host)
  --board NAME            rpi3, rpi4, rpi5, x86-vaapi or generic [EXSTREAMTV_BOARD] (default: detected)

Other environment:
  EXSTREAMTV_API_TOKEN    the REST API token (default: generated into DATA/api-token)
  EXSTREAMTV_LOG          log filter, e.g. info or exstreamtv=debug,hyper=warn (default info)
                          (the audit log, target audit, stays at info unless named: audit=warn)
";

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    Serve(Config),
    Doctor(Config),
    Help,
    Version,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub media_dirs: Vec<PathBuf>,
    pub tuners: Option<u16>,
    /// `None` when discovery is disabled (`--discovery-port 0`).
    pub discovery_port: Option<u16>,
    /// `None` when SSDP is disabled (`--ssdp-port 0`, e.g. in tests run in parallel).
    pub ssdp_port: Option<u16>,
    pub base_url: Option<String>,
    pub board: Option<String>,
    pub api_token: Option<String>,
    pub log_filter: String,
    /// `EXSTREAMTV_DEBUG_ROUTES=1` adds `/api/debug/*` (fault injection for tests). Off by default.
    pub debug_routes: bool,
}

#[derive(Debug)]
pub enum ConfigError {
    /// A bad command line: the message is printed and the process exits 2.
    Usage(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Usage(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for ConfigError {}

fn usage(msg: impl Into<String>) -> ConfigError {
    ConfigError::Usage(msg.into())
}

/// The settings as given, before any is checked: the environment's values, overridden by the
/// flags' (ripgrep's low-level arguments). `Config::from_args_and_env` then resolves them
/// into typed values in one place, so each check and its message exist once.
#[derive(Debug, Default)]
struct RawArgs {
    listen: Option<String>,
    data: Option<PathBuf>,
    media: Vec<PathBuf>,
    tuners: Option<String>,
    discovery_port: Option<String>,
    ssdp_port: Option<String>,
    base_url: Option<String>,
    board: Option<String>,
    doctor: bool,
}

/// A variable's value as text; unset and empty are the same (a unit file's `Environment=X=`).
fn env_text(
    env: &impl Fn(&str) -> Option<OsString>,
    key: &str,
) -> Result<Option<String>, ConfigError> {
    match env(key) {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) => v
            .into_string()
            .map(Some)
            .map_err(|_| usage(format!("{key} is not valid UTF-8"))),
    }
}

impl RawArgs {
    fn from_env(env: &impl Fn(&str) -> Option<OsString>) -> Result<RawArgs, ConfigError> {
        let text = |key: &str| env_text(env, key);
        Ok(RawArgs {
            listen: match text("EXSTREAMTV_LISTEN")? {
                Some(listen) => Some(listen),
                None => {
                    listen_from_host_and_port(text("EXSTREAMTV_HOST")?, text("EXSTREAMTV_PORT")?)
                }
            },
            data: env("EXSTREAMTV_DATA")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            media: env("EXSTREAMTV_MEDIA")
                .map(|v| {
                    std::env::split_paths(&v)
                        .filter(|p| !p.as_os_str().is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            tuners: text("EXSTREAMTV_TUNERS")?,
            discovery_port: text("EXSTREAMTV_DISCOVERY_PORT")?,
            ssdp_port: text("EXSTREAMTV_SSDP_PORT")?,
            base_url: text("EXSTREAMTV_BASE_URL")?,
            board: text("EXSTREAMTV_BOARD")?,
            doctor: false,
        })
    }

    /// Lays the flags over the environment's values. `Some` is a command that needs no
    /// settings (`--help`, `--version`), answered at once.
    fn apply_flags(&mut self, args: &[OsString]) -> Result<Option<Command>, ConfigError> {
        let mut subcommand_seen = false;
        let mut media_from_flags: Vec<PathBuf> = Vec::new();
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            let arg_str = arg
                .to_str()
                .ok_or_else(|| usage("an argument is not valid UTF-8"))?;
            // `--flag=value` and `--flag value` are both accepted.
            let (flag, inline) = match arg_str.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f, Some(v)),
                _ => (arg_str, None),
            };
            let mut value = |name: &str| -> Result<OsString, ConfigError> {
                if let Some(v) = inline {
                    return Ok(OsString::from(v));
                }
                iter.next()
                    .cloned()
                    .ok_or_else(|| usage(format!("{name} needs a value")))
            };
            let mut text = |name: &str| value(name).and_then(|v| os_to_string(v, name));
            match flag {
                "-h" | "--help" => return Ok(Some(Command::Help)),
                "-V" | "--version" => return Ok(Some(Command::Version)),
                "serve" | "doctor" if !subcommand_seen => {
                    subcommand_seen = true;
                    self.doctor = flag == "doctor";
                }
                "--listen" => self.listen = Some(text(flag)?),
                "--data" => self.data = Some(PathBuf::from(value(flag)?)),
                "--media" => media_from_flags.push(PathBuf::from(value(flag)?)),
                "--tuners" => self.tuners = Some(text(flag)?),
                "--discovery-port" => self.discovery_port = Some(text(flag)?),
                "--ssdp-port" => self.ssdp_port = Some(text(flag)?),
                "--base-url" => self.base_url = Some(text(flag)?),
                "--board" => self.board = Some(text(flag)?),
                other if other.starts_with('-') => {
                    return Err(usage(format!("unknown option {other}")))
                }
                other => return Err(usage(format!("unexpected argument {other:?}"))),
            }
        }
        // Media folders from flags replace the environment's list rather than add to it.
        if !media_from_flags.is_empty() {
            self.media = media_from_flags;
        }
        Ok(None)
    }
}

/// EXStreamTV's pair of variables, kept so existing units keep working.
fn listen_from_host_and_port(host: Option<String>, port: Option<String>) -> Option<String> {
    if host.is_none() && port.is_none() {
        return None;
    }
    let host = host.unwrap_or_else(|| "0.0.0.0".into());
    let port = port.unwrap_or_else(|| "8411".into());
    Some(if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    })
}

fn parse_listen(listen: Option<String>) -> Result<SocketAddr, ConfigError> {
    let listen = listen.unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    listen.parse().map_err(|_| {
        usage(format!(
            "--listen {listen:?} is not HOST:PORT (an IP address and a port, e.g. 0.0.0.0:8411)"
        ))
    })
}

fn parse_tuners(tuners: Option<String>) -> Result<Option<u16>, ConfigError> {
    let Some(t) = tuners else {
        return Ok(None);
    };
    match t.parse::<u16>() {
        Ok(n) if (1..=MAX_TUNERS).contains(&n) => Ok(Some(n)),
        _ => Err(usage(format!(
            "--tuners {t:?} must be a number from 1 to {MAX_TUNERS}"
        ))),
    }
}

/// A UDP port flag: unset is `default`, `0` turns the listener off.
fn parse_port_or_off(
    value: Option<String>,
    default: u16,
    flag: &str,
) -> Result<Option<u16>, ConfigError> {
    let Some(p) = value else {
        return Ok(Some(default));
    };
    match p.parse::<u16>() {
        Ok(0) => Ok(None),
        Ok(n) => Ok(Some(n)),
        Err(_) => Err(usage(format!(
            "{flag} {p:?} must be a port number (0 disables)"
        ))),
    }
}

fn check_board(board: &Option<String>) -> Result<(), ConfigError> {
    match board {
        Some(name) if crate::board::Board::by_name(name).is_none() => Err(usage(format!(
            "--board {name:?} is not one of {}",
            crate::board::BOARD_NAMES.join(", ")
        ))),
        _ => Ok(()),
    }
}

impl Config {
    /// Parses `args` (without the program name) over the environment read by `env`.
    pub fn from_args_and_env(
        args: &[OsString],
        env: impl Fn(&str) -> Option<OsString>,
    ) -> Result<Command, ConfigError> {
        let mut raw = RawArgs::from_env(&env)?;
        if let Some(command) = raw.apply_flags(args)? {
            return Ok(command);
        }
        // Checked in the order of the help text, so the first bad value is the one named.
        let listen = parse_listen(raw.listen)?;
        let tuners = parse_tuners(raw.tuners)?;
        let discovery_port = parse_port_or_off(
            raw.discovery_port,
            DEFAULT_DISCOVERY_PORT,
            "--discovery-port",
        )?;
        let ssdp_port = parse_port_or_off(raw.ssdp_port, DEFAULT_SSDP_PORT, "--ssdp-port")?;
        let base_url = raw.base_url.as_deref().map(validate_base_url).transpose()?;
        check_board(&raw.board)?;
        let config = Config {
            listen,
            data_dir: raw.data.unwrap_or_else(|| PathBuf::from("./data")),
            media_dirs: raw.media,
            tuners,
            discovery_port,
            ssdp_port,
            base_url,
            board: raw.board,
            api_token: env_text(&env, "EXSTREAMTV_API_TOKEN")?,
            log_filter: env_text(&env, "EXSTREAMTV_LOG")?.unwrap_or_else(|| "info".into()),
            debug_routes: env_text(&env, "EXSTREAMTV_DEBUG_ROUTES")?.is_some_and(|v| v == "1"),
        };
        Ok(if raw.doctor {
            Command::Doctor(config)
        } else {
            Command::Serve(config)
        })
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("exstreamtv.db")
    }
}

fn os_to_string(v: OsString, flag: &str) -> Result<String, ConfigError> {
    v.into_string()
        .map_err(|_| usage(format!("{flag} value is not valid UTF-8")))
}

/// A base URL is emitted verbatim into documents clients parse, so only a plain
/// `http(s)://host[:port][/path]` without whitespace, quotes or a trailing slash is accepted.
pub fn validate_base_url(url: &str) -> Result<String, ConfigError> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| {
            usage(format!(
                "--base-url {url:?} must start with http:// or https://"
            ))
        })?;
    let bad = |c: char| {
        c.is_whitespace()
            || c.is_control()
            || matches!(c, '"' | '\'' | '<' | '>' | '\\' | '?' | '#')
    };
    if rest.is_empty() || rest.starts_with('/') || rest.contains(bad) {
        return Err(usage(format!(
            "--base-url {url:?} is not a plain http(s)://host[:port] URL"
        )));
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// True for a path flag value that is an existing directory.
pub fn is_dir(path: &OsStr) -> bool {
    std::path::Path::new(path).is_dir()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<Command, ConfigError> {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_args_and_env(&args, |k| {
            env.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| OsString::from(v))
        })
    }

    fn serve(args: &[&str], env: &[(&str, &str)]) -> Config {
        match parse(args, env) {
            Ok(Command::Serve(c)) => c,
            other => panic!("expected serve, got {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let c = serve(&[], &[]);
        assert_eq!(c.listen.to_string(), "0.0.0.0:8411");
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert_eq!(c.discovery_port, Some(65001));
        assert!(c.media_dirs.is_empty());
        assert_eq!(c.log_filter, "info");
    }

    #[test]
    fn flags_beat_env() {
        let c = serve(
            &[
                "serve",
                "--listen",
                "127.0.0.1:9000",
                "--media=/a",
                "--media",
                "/b",
                "--discovery-port",
                "0",
            ],
            &[
                ("EXSTREAMTV_LISTEN", "127.0.0.1:1"),
                ("EXSTREAMTV_MEDIA", "/x:/y"),
            ],
        );
        assert_eq!(c.listen.to_string(), "127.0.0.1:9000");
        assert_eq!(c.media_dirs, vec![PathBuf::from("/a"), PathBuf::from("/b")]);
        assert_eq!(c.discovery_port, None);
    }

    #[test]
    fn env_media_is_colon_separated_and_host_port_pair_is_accepted() {
        let c = serve(
            &[],
            &[("EXSTREAMTV_MEDIA", "/x:/y"), ("EXSTREAMTV_PORT", "9999")],
        );
        assert_eq!(c.media_dirs, vec![PathBuf::from("/x"), PathBuf::from("/y")]);
        assert_eq!(c.listen.to_string(), "0.0.0.0:9999");
    }

    #[test]
    fn bad_input_is_a_usage_error() {
        for args in [
            &["--nope"][..],
            &["--listen", "nowhere"],
            &["--tuners", "0"],
            &["--tuners", "17"],
            &["--discovery-port", "x"],
            &["--base-url", "ftp://x"],
            &["--base-url", "http://a\"b"],
            &["--board", "pdp11"],
            &["--data"],
            &["stray"],
        ] {
            assert!(
                matches!(parse(args, &[]), Err(ConfigError::Usage(_))),
                "{args:?}"
            );
        }
    }

    #[test]
    fn subcommands() {
        assert!(matches!(parse(&["doctor"], &[]), Ok(Command::Doctor(_))));
        assert!(matches!(parse(&["--version"], &[]), Ok(Command::Version)));
        assert!(matches!(
            parse(&["serve", "--help"], &[]),
            Ok(Command::Help)
        ));
    }
}
