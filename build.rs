//! Records the compiler version for `/api/health/detailed` (`system.rust_version`), and
//! prepares the web UI's assets (`src/web/assets`): each gzip-compressed once here (so the
//! binary carries only the compressed bytes and the server never compresses), named by a
//! hash of its content (so it can be cached for ever), and listed in `web_assets.rs` in
//! OUT_DIR for `web::assets` to `include!`. `index.html` keeps its name and has the hashed
//! names written into it.
use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.split_whitespace().nth(1).map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=EXSTREAMTV_RUSTC_VERSION={version}");
    println!("cargo:rerun-if-changed=build.rs");
    web_assets();
    unwind_tables();
}

/// The boards' build aborts on a panic, so nothing in it ever unwinds: scripts/build-aarch64
/// sets EXSTREAMTV_NO_UNWIND_TABLES and the unwind tables are dropped at link time (lld).
/// (`CARGO_CFG_PANIC` cannot tell: it is the target's default, not the profile's.)
fn unwind_tables() {
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    println!("cargo:rerun-if-env-changed=EXSTREAMTV_NO_UNWIND_TABLES");
    if var("EXSTREAMTV_NO_UNWIND_TABLES") != "1" || var("CARGO_CFG_TARGET_ENV") != "musl" {
        return;
    }
    let script = Path::new(&var("CARGO_MANIFEST_DIR")).join("boards/no-unwind-tables.ld");
    println!("cargo:rerun-if-changed=boards/no-unwind-tables.ld");
    println!("cargo:rustc-link-arg-bins=-Wl,--no-eh-frame-hdr");
    println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", script.display());
}

/// The hashed assets. One may name those before it (`/ui/assets/<path>`, rewritten to the
/// hashed name): hls.js comes first because app.js imports it (lazily, to watch a channel).
const ASSETS: &[(&str, &str)] = &[
    // Vendored (src/web/assets/vendor: its licence beside it, its sha256 in SHA256SUMS,
    // checked by a test): hls.js 1.7.4's light build, for browsers that cannot play our
    // HLS natively (Chromium cannot demux its MPEG-TS segments; hls.js remuxes them).
    ("vendor/hls.light.min.mjs", "text/javascript; charset=utf-8"),
    ("app.js", "text/javascript; charset=utf-8"),
    ("app.css", "text/css; charset=utf-8"),
    ("favicon.svg", "image/svg+xml"),
];

fn web_assets() {
    let dir = Path::new("src/web/assets");
    println!("cargo:rerun-if-changed=src/web/assets");
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let mut index = read(&dir.join("index.html"));
    let mut table = String::from("pub static ASSETS: &[Asset] = &[\n");
    // (path as written, hashed name): applied to each later asset and to index.html.
    let mut renames: Vec<(String, String)> = Vec::new();
    for (name, mime) in ASSETS {
        let mut bytes = read(&dir.join(name));
        for (from, to) in &renames {
            bytes = bytes.replace(from, to);
        }
        let hash = format!("{:016x}", fnv1a(bytes.as_bytes()));
        let file = name.rsplit('/').next().unwrap_or(name);
        let (stem, ext) = file.rsplit_once('.').expect("asset name has an extension");
        let hashed = format!("{stem}.{}.{ext}", &hash[..10]);
        let rename = (format!("/ui/assets/{name}"), format!("/ui/assets/{hashed}"));
        index = index.replace(&rename.0, &rename.1);
        renames.push(rename);
        entry(
            &mut table,
            &out,
            &hashed,
            mime,
            bytes.as_bytes(),
            &hash,
            true,
        );
    }
    let hash = format!("{:016x}", fnv1a(index.as_bytes()));
    entry(
        &mut table,
        &out,
        "index.html",
        "text/html; charset=utf-8",
        index.as_bytes(),
        &hash,
        false,
    );
    table.push_str("];\n");
    std::fs::write(out.join("web_assets.rs"), table).expect("write web_assets.rs");
}

fn read(path: &Path) -> String {
    println!("cargo:rerun-if-changed={}", path.display());
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn entry(
    table: &mut String,
    out: &Path,
    name: &str,
    mime: &str,
    raw: &[u8],
    hash: &str,
    immutable: bool,
) {
    let gz = gzip(raw);
    std::fs::write(out.join(format!("{name}.gz")), &gz).expect("write asset");
    let _ = writeln!(
        table,
        "    Asset {{ name: {name:?}, mime: {mime:?}, etag: \"\\\"{hash}\\\"\", immutable: {immutable}, raw_len: {}, gz: include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{name}.gz\")) }},",
        raw.len()
    );
}

/// A gzip member (RFC 1952) around miniz_oxide's raw deflate: fixed header, no name, no
/// mtime (reproducible builds), CRC-32 and length trailer.
fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3];
    out.extend(miniz_oxide::deflate::compress_to_vec(raw, 10));
    out.extend(crc32(raw).to_le_bytes());
    out.extend((raw.len() as u32).to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}
