//! EXStreamTV's `config.yaml`, as far as it is this box's identity to its clients: the
//! HDHomeRun DeviceID (Plex keys a DVR by it, Jellyfin its tuner), DeviceAuth and the tuner
//! count. The rest of it belongs to the old box (paths, ports, cloud keys) and stays there;
//! the report says so.

use serde::Deserialize;

use crate::hdhr::device_id;

/// The tuner identity `config.yaml` gives, each part already checked against our bounds.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tuner {
    /// 8 hex digits with a valid check digit, upper case.
    pub device_id: Option<String>,
    pub device_auth: Option<String>,
    pub tuner_count: Option<u16>,
}

impl Tuner {
    pub fn is_empty(&self) -> bool {
        *self == Tuner::default()
    }
}

#[derive(Deserialize)]
struct Doc {
    #[serde(default)]
    hdhomerun: Option<Hdhomerun>,
    #[serde(default)]
    libraries: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    ai_agent: Option<serde_yaml_ng::Value>,
}

#[derive(Deserialize)]
struct Hdhomerun {
    /// A string, or a number when written unquoted (`device_id: 12345678`).
    #[serde(default)]
    device_id: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    device_auth: Option<String>,
    #[serde(default)]
    tuner_count: Option<i64>,
}

/// Reads `text`; what cannot come over is a warning, a file that is not YAML an error.
pub fn read(text: &str, warnings: &mut Vec<String>) -> Result<Tuner, String> {
    let doc: Doc = serde_yaml_ng::from_str(text).map_err(|e| format!("config.yaml: {e}"))?;
    let mut tuner = Tuner::default();
    if doc.libraries.is_some() {
        warnings.push(
            "config.yaml: Plex/Jellyfin/Emby and folder settings are not carried over; add the \
             sources here (their tokens are secrets and stay on the old box)"
                .to_owned(),
        );
    }
    if doc.ai_agent.is_some() {
        warnings.push(
            "config.yaml: the AI settings (cloud providers, keys) are not carried over; see \
             /api/ai/settings"
                .to_owned(),
        );
    }
    let Some(h) = doc.hdhomerun else {
        return Ok(tuner);
    };
    tuner.device_id = h.device_id.as_ref().and_then(|v| checked_id(v, warnings));
    tuner.device_auth = h.device_auth.filter(|auth| {
        let fits = !auth.is_empty()
            && auth.len() <= 64
            && auth.chars().all(|c| c.is_ascii_graphic());
        if !fits {
            warnings.push(format!(
                "config.yaml: DeviceAuth {auth:?} is not plain text of 1-64 characters; ours is kept"
            ));
        }
        fits
    });
    tuner.tuner_count = match h.tuner_count {
        Some(n @ 1..=16) => Some(n as u16),
        Some(n) => {
            warnings.push(format!(
                "config.yaml: tuner_count {n} is outside 1-16; ours is kept"
            ));
            None
        }
        None => None,
    };
    Ok(tuner)
}

/// The DeviceID when clients would accept it: EXStreamTV's defaults (`EXSTREAMTV`,
/// `E5E17001`) fail libhdhomerun's check, so a box that used them keeps our id.
fn checked_id(value: &serde_yaml_ng::Value, warnings: &mut Vec<String>) -> Option<String> {
    let text = match value {
        serde_yaml_ng::Value::String(s) => s.trim().to_owned(),
        serde_yaml_ng::Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    match device_id::parse(&text) {
        Some(id) if device_id::is_valid(id) => Some(device_id::format(id)),
        _ => {
            warnings.push(format!(
                "config.yaml: DeviceID {text:?} is not 8 hex digits with a valid HDHomeRun \
                 check digit (libhdhomerun drops such a device); ours is kept, so add the tuner \
                 again in Plex/Jellyfin"
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_id_comes_over_and_the_defaults_do_not() {
        let mut w = Vec::new();
        let t = read(
            "hdhomerun:\n  device_id: \"1053c5a3\"\n  device_auth: box\n  tuner_count: 6\n",
            &mut w,
        )
        .unwrap();
        assert_eq!(t.device_id.as_deref(), Some("1053C5A3"));
        assert_eq!(t.device_auth.as_deref(), Some("box"));
        assert_eq!(t.tuner_count, Some(6));
        assert!(w.is_empty(), "{w:?}");

        for bad in ["EXSTREAMTV", "E5E17001", "12345678"] {
            let mut w = Vec::new();
            let t = read(
                &format!("hdhomerun:\n  device_id: {bad}\n  tuner_count: 40\n"),
                &mut w,
            )
            .unwrap();
            assert_eq!((t.device_id, t.tuner_count), (None, None), "{bad}");
            assert_eq!(w.len(), 2, "{w:?}");
            assert!(w[0].contains(bad), "{w:?}");
        }
    }

    #[test]
    fn no_hdhomerun_section_is_nothing_and_not_yaml_is_an_error() {
        let mut w = Vec::new();
        assert!(read("server:\n  port: 8411\n", &mut w).unwrap().is_empty());
        assert!(read("hdhomerun: [unclosed", &mut w)
            .unwrap_err()
            .starts_with("config.yaml:"));
    }
}
