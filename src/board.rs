//! Board profiles: the hardware encoder, its constraints and the default limits of each
//! supported box. The profiles are the TOML files in `boards/`, compiled in, so the static
//! binary needs nothing beside it. Detection reads the device tree and the device nodes.

use std::path::Path;

use smol_str::SmolStr;

/// The names `--board` accepts, in the order detection tries them.
pub const BOARD_NAMES: [&str; 5] = ["rpi3", "rpi4", "rpi5", "x86-vaapi", "generic"];

const BOARD_FILES: [&str; 5] = [
    include_str!("../boards/rpi3.toml"),
    include_str!("../boards/rpi4.toml"),
    include_str!("../boards/rpi5.toml"),
    include_str!("../boards/x86-vaapi.toml"),
    include_str!("../boards/generic.toml"),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Board {
    pub name: SmolStr,
    pub description: String,
    model_match: String,
    /// The FFmpeg video encoder: `h264_v4l2m2m`, `h264_vaapi` or `libx264`.
    pub encoder: SmolStr,
    pub pix_fmt: SmolStr,
    pub max_width: u32,
    pub max_height: u32,
    /// Output width and height must be multiples of these (encoder stride rules).
    pub width_align: u32,
    pub height_align: u32,
    pub max_transcodes: u16,
    pub tuners: u16,
    pub scan_concurrency: u16,
    pub memory_budget_mib: u32,
}

impl Board {
    pub fn by_name(name: &str) -> Option<Board> {
        BOARD_FILES
            .iter()
            .map(|text| parse(text).expect("boards/*.toml are checked by a unit test"))
            .find(|b| b.name == name)
    }

    /// Detects the board from `/proc/device-tree/model` and the device nodes under `root`
    /// (`/` in production; a temp dir in tests).
    pub fn detect(root: &Path) -> Board {
        let model = std::fs::read(root.join("proc/device-tree/model"))
            .map(|b| {
                String::from_utf8_lossy(&b)
                    .trim_end_matches('\0')
                    .to_string()
            })
            .unwrap_or_default();
        let pick = |name: &str| Board::by_name(name).expect("a BOARD_NAMES entry");
        for name in ["rpi3", "rpi4", "rpi5"] {
            let board = pick(name);
            if !board.model_match.is_empty() && model.contains(&board.model_match) {
                return board;
            }
        }
        let has_render_node = std::fs::read_dir(root.join("dev/dri"))
            .map(|dir| {
                dir.flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
            })
            .unwrap_or(false);
        if cfg!(target_arch = "x86_64") && has_render_node {
            return pick("x86-vaapi");
        }
        pick("generic")
    }
}

/// Parses the flat `key = value` subset of TOML the board files use (strings, integers,
/// comments). A dependency on a full TOML parser would cost more than these 40 lines.
fn parse(text: &str) -> Result<Board, String> {
    let mut fields = std::collections::HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| format!("line {}: expected key = value", n + 1))?;
        let value = value.trim();
        let value = match value.strip_prefix('"') {
            Some(rest) => rest
                .strip_suffix('"')
                .ok_or_else(|| format!("line {}: unterminated string", n + 1))?,
            None => value.split('#').next().unwrap_or("").trim(),
        };
        fields.insert(key.trim(), value);
    }
    let text = |k: &str| {
        fields
            .get(k)
            .map(|v| v.to_string())
            .ok_or_else(|| format!("missing {k}"))
    };
    let int = |k: &str| -> Result<u32, String> {
        fields
            .get(k)
            .ok_or_else(|| format!("missing {k}"))?
            .parse()
            .map_err(|_| format!("{k}: not an integer"))
    };
    let small = |k: &str| -> Result<u16, String> {
        u16::try_from(int(k)?).map_err(|_| format!("{k}: too large"))
    };
    Ok(Board {
        name: text("name")?.into(),
        description: text("description")?,
        model_match: text("model_match")?,
        encoder: text("encoder")?.into(),
        pix_fmt: text("pix_fmt")?.into(),
        max_width: int("max_width")?,
        max_height: int("max_height")?,
        width_align: int("width_align")?,
        height_align: int("height_align")?,
        max_transcodes: small("max_transcodes")?,
        tuners: small("tuners")?,
        scan_concurrency: small("scan_concurrency")?,
        memory_budget_mib: int("memory_budget_mib")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_board_file_parses_and_is_named_like_its_file() {
        for (name, text) in BOARD_NAMES.iter().zip(BOARD_FILES) {
            let board = parse(text).unwrap();
            assert_eq!(board.name, *name);
            assert!(board.max_transcodes >= 1 && board.tuners >= 1 && board.scan_concurrency >= 1);
            assert!(["h264_v4l2m2m", "h264_vaapi", "libx264"].contains(&board.encoder.as_str()));
        }
    }

    #[test]
    fn detects_a_pi_from_the_device_tree_and_falls_back_to_generic() {
        let root = std::env::temp_dir().join(format!("exstreamtv-board-{}", std::process::id()));
        std::fs::create_dir_all(root.join("proc/device-tree")).unwrap();
        std::fs::write(
            root.join("proc/device-tree/model"),
            b"Raspberry Pi 4 Model B Rev 1.4\0",
        )
        .unwrap();
        assert_eq!(Board::detect(&root).name, "rpi4");
        std::fs::write(root.join("proc/device-tree/model"), b"Some Router\0").unwrap();
        assert_eq!(Board::detect(&root).name, "generic");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
