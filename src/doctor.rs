//! `exstreamtv doctor`: what a user checks before filing a bug — the board, FFmpeg and which
//! encoders really work (a one-frame encode each), the ports, and the data directory.

use std::fmt;
use std::process::{Command, Stdio};

use crate::board::Board;
use crate::config::Config;
use crate::tools::Tools;

#[derive(Debug)]
pub struct DoctorError(pub u32);

impl fmt::Display for DoctorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} check(s) failed", self.0)
    }
}

impl std::error::Error for DoctorError {}

/// The encoders probed, with the input options each needs to get a frame to it.
const ENCODERS: [(&str, &[&str]); 3] = [
    ("libx264", &[]),
    ("h264_v4l2m2m", &[]),
    (
        "h264_vaapi",
        &[
            "-vaapi_device",
            "/dev/dri/renderD128",
            "-vf",
            "format=nv12,hwupload",
        ],
    ),
];

pub fn run(config: &Config) -> Result<(), DoctorError> {
    let board = match &config.board {
        Some(name) => {
            Board::by_name(name).unwrap_or_else(|| Board::detect(std::path::Path::new("/")))
        }
        None => Board::detect(std::path::Path::new("/")),
    };
    println!(
        "board:     {} ({}), {} tuner(s), encoder {}",
        board.name,
        board.description,
        config.tuners.unwrap_or(board.tuners),
        board.encoder
    );
    let tools = detect_tools();
    let mut failures = check_tools(&tools);
    if tools.ffmpeg.is_available() {
        check_encoders(&tools, &board);
    }
    check_ports(config);
    failures += check_data_dir(&config.data_dir);
    if failures > 0 {
        return Err(DoctorError(failures));
    }
    Ok(())
}

/// FFmpeg and ffprobe, each found with its version or reported missing. Returns the
/// number missing.
fn check_tools(tools: &Tools) -> u32 {
    let mut missing = 0;
    for tool in [&tools.ffmpeg, &tools.ffprobe] {
        match (&tool.path, &tool.version) {
            (Some(path), Some(v)) => println!(
                "{:<10} {} at {}",
                format!("{}:", tool.name),
                v,
                path.display()
            ),
            _ => {
                println!(
                    "{:<10} MISSING (install it: apt-get install ffmpeg)",
                    format!("{}:", tool.name)
                );
                missing += 1;
            }
        }
    }
    missing
}

/// Each known encoder tried on one frame; the board's own failing is said aloud (the
/// stream falls back, so it is not a failure of the doctor).
fn check_encoders(tools: &Tools, board: &Board) {
    for (encoder, pre) in ENCODERS {
        let works = encode_one_frame(tools.ffmpeg.program(), encoder, pre);
        let marker = if encoder == board.encoder {
            " (board's choice)"
        } else {
            ""
        };
        println!(
            "encoder:   {encoder:<13} {}{marker}",
            if works { "works" } else { "unavailable" }
        );
        if encoder == board.encoder && !works {
            println!("           the board's encoder failed: streams will fall back to libx264");
        }
    }
}

/// Whether the HTTP and discovery ports are free (a server already running holds them:
/// reported, not a failure).
fn check_ports(config: &Config) {
    let http = std::net::TcpListener::bind(config.listen);
    match &http {
        Ok(_) => println!("http:      {} is free", config.listen),
        Err(e) => println!(
            "http:      {} cannot be bound ({e}); is exstreamtv already running?",
            config.listen
        ),
    }
    drop(http);
    match config.discovery_port {
        None => println!("discovery: disabled"),
        Some(port) => match std::net::UdpSocket::bind(("0.0.0.0", port)) {
            Ok(_) => println!("discovery: UDP {port} is free"),
            Err(e) => println!("discovery: UDP {port} cannot be bound ({e})"),
        },
    }
}

/// The data folder is created if needed and must be writable. Returns 1 when it is not.
fn check_data_dir(data: &std::path::Path) -> u32 {
    match std::fs::create_dir_all(data).and_then(|_| tempfile_probe(data)) {
        Ok(()) => {
            let free = crate::api::health::disk_space(data).map(|(f, _)| f / (1024 * 1024));
            println!(
                "data:      {} writable, {} MiB free",
                data.display(),
                free.unwrap_or(0)
            );
            0
        }
        Err(e) => {
            println!("data:      {} is not writable ({e})", data.display());
            1
        }
    }
}

/// `Tools::detect` (async: `serve` runs it beside the server) on a runtime of its own; the
/// doctor is a blocking command. Without a runtime both are reported missing.
fn detect_tools() -> Tools {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(Tools::detect("ffmpeg", "ffprobe")),
        Err(err) => {
            println!("tools:     cannot start a runtime to check them ({err})");
            let missing = |name: &str| crate::tools::Tool {
                name: name.to_string(),
                path: None,
                version: None,
            };
            Tools {
                ffmpeg: missing("ffmpeg"),
                ffprobe: missing("ffprobe"),
            }
        }
    }
}

fn encode_one_frame(ffmpeg: &std::path::Path, encoder: &str, pre: &[&str]) -> bool {
    let mut cmd = Command::new(ffmpeg);
    cmd.args([
        "-v",
        "error",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=1",
        "-frames:v",
        "1",
    ]);
    cmd.args(pre).args(["-c:v", encoder, "-f", "null", "-"]);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd.status().map(|s| s.success()).unwrap_or(false)
}

fn tempfile_probe(dir: &std::path::Path) -> std::io::Result<()> {
    let probe = dir.join(".doctor-probe");
    std::fs::write(&probe, b"ok")?;
    std::fs::remove_file(probe)
}
