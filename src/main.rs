//! The `exstreamtv` command: parses the command line, then hands over to `serve` or `doctor`.
//! Prints the whole error chain on failure (exit 1); a bad command line exits 2.

use std::error::Error;
use std::process::ExitCode;

use exstreamtv::config::{Command, Config, ConfigError};

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let command = match Config::from_args_and_env(&args, |k| std::env::var_os(k)) {
        Ok(command) => command,
        Err(ConfigError::Usage(msg)) => {
            eprintln!("exstreamtv: {msg}\n\nRun `exstreamtv --help` for usage.");
            return ExitCode::from(2);
        }
    };
    let result = match command {
        Command::Help => {
            print!("{}", exstreamtv::config::HELP);
            return ExitCode::SUCCESS;
        }
        Command::Version => {
            println!("exstreamtv {}", exstreamtv::VERSION);
            return ExitCode::SUCCESS;
        }
        Command::Serve(config) => exstreamtv::serve::run(config).map_err(Box::<dyn Error>::from),
        Command::Doctor(config) => exstreamtv::doctor::run(&config).map_err(Box::<dyn Error>::from),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let mut msg = format!("exstreamtv: {err}");
            let mut source = err.source();
            while let Some(cause) = source {
                msg.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            eprintln!("{msg}");
            ExitCode::FAILURE
        }
    }
}
