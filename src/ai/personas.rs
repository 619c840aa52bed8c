//! The channel creator's personas (EXStreamTV's PersonaConfig): seven built-in defaults as
//! data, each replaceable, and more addable, by a YAML file in `DATA/personas/`. A file
//! that does not parse is logged and skipped: the default stays. YAML is read into a JSON
//! value and then the persona type, so the binary holds one YAML instantiation.

use std::path::Path;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Persona {
    pub id: String,
    pub name: String,
    pub title: String,
    pub description: String,
    #[serde(default)]
    pub specialties: Vec<String>,
    #[serde(default)]
    pub icon: String,
    #[serde(default)]
    pub color: String,
    pub welcome_message: String,
    pub system_prompt: String,
}

/// (id, name, title, description, specialties, icon, color, welcome, focus of the prompt)
type Row = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

const BUILTIN: &[Row] = &[
    (
        "tv_executive",
        "Max",
        "TV Programming Executive",
        "Builds classic network-style channels: dayparts, blocks and prime time.",
        &["dayparting", "sitcoms", "dramas", "network blocks"],
        "📺",
        "#3b82f6",
        "Hi, I'm Max. Tell me what your channel should feel like and when it should play what.",
        "network-style programming: dayparts, prime time and lead-ins",
    ),
    (
        "movie_critic",
        "Vera",
        "Film Curator",
        "Curates movie channels by genre, era, director or mood.",
        &["movies", "film eras", "double features"],
        "🎬",
        "#ef4444",
        "I'm Vera. Which films, eras or moods should your movie channel celebrate?",
        "movie channels by genre, era and mood",
    ),
    (
        "kids_expert",
        "Penny",
        "Children's Programming Expert",
        "Safe, age-appropriate channels: cartoons in the morning, calm shows at bedtime.",
        &["cartoons", "age ratings", "Saturday mornings"],
        "🧸",
        "#f59e0b",
        "Hi! I'm Penny. Who is the channel for, and when do they watch?",
        "age-appropriate children's programming, content ratings first",
    ),
    (
        "pbs_expert",
        "Walter",
        "Public Broadcasting Expert",
        "Documentaries, science, history and arts, scheduled like public television.",
        &["documentaries", "education", "arts"],
        "🎓",
        "#10b981",
        "Good day, I'm Walter. What would you like viewers to learn about?",
        "educational and documentary programming",
    ),
    (
        "sports_expert",
        "Jordan",
        "Sports Programming Director",
        "Game replays, highlights and sports documentaries around the clock.",
        &["sports", "replays", "highlights"],
        "🏟️",
        "#8b5cf6",
        "Jordan here. Which sports, teams or eras should the channel cover?",
        "sports programming: replays, highlights, documentaries",
    ),
    (
        "tech_expert",
        "Ada",
        "Technical Expert",
        "Knows formats, codecs and what plays well on a small box.",
        &["formats", "transcoding", "hardware"],
        "🛠️",
        "#64748b",
        "I'm Ada. Describe the channel, and I'll make sure it plays smoothly.",
        "channels that play reliably: formats, durations and gaps",
    ),
    (
        "system_admin",
        "Sam",
        "System Administrator",
        "Keeps the server healthy while channels are added.",
        &["server health", "storage", "tuners"],
        "🖥️",
        "#0ea5e9",
        "Sam here. What channel do you need, and how many viewers at once?",
        "what the server can carry: tuners, storage and load",
    ),
];

fn builtin(row: &Row) -> Persona {
    let (id, name, title, description, specialties, icon, color, welcome, focus) = *row;
    Persona {
        id: id.into(),
        name: name.into(),
        title: title.into(),
        description: description.into(),
        specialties: specialties.iter().map(|s| s.to_string()).collect(),
        icon: icon.into(),
        color: color.into(),
        welcome_message: welcome.into(),
        system_prompt: format!(
            "You are {name}, a {title} helping to design a live TV channel from the user's own \
             media library. Your focus: {focus}. Ask short questions until you know what the \
             channel plays and when, then describe it. Only use content the library has."
        ),
    }
}

/// Built-ins, then `DATA/personas/*.yaml` over them (same id: replaced; new id: added),
/// sorted by file name so the result does not depend on the directory's order.
pub fn all(data_dir: &Path) -> Vec<Persona> {
    let mut out: Vec<Persona> = BUILTIN.iter().map(builtin).collect();
    let dir = data_dir.join("personas");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return out;
    };
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    for path in files {
        match read(&path) {
            Ok(p) => match out.iter_mut().find(|o| o.id == p.id) {
                Some(slot) => *slot = p,
                None => out.push(p),
            },
            Err(err) => {
                tracing::warn!(file = %path.display(), %err, "persona file skipped");
            }
        }
    }
    out
}

/// Persona files are small; a bigger one is refused unread.
const MAX_FILE: u64 = 64 * 1024;

fn read(path: &Path) -> Result<Persona, String> {
    let len = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if len > MAX_FILE {
        return Err(format!("larger than {MAX_FILE} bytes"));
    }
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let value: serde_json::Value = serde_yaml_ng::from_str(&text).map_err(|e| e.to_string())?;
    let p: Persona = serde_json::from_value(value).map_err(|e| e.to_string())?;
    if p.id.is_empty() || !p.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err("id: letters, digits and _ only".into());
    }
    Ok(p)
}

pub fn find(data_dir: &Path, id: &str) -> Option<Persona> {
    all(data_dir).into_iter().find(|p| p.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_and_a_file_replacing_one_and_a_bad_file_skipped() {
        let dir = std::env::temp_dir().join(format!("personas-{}", std::process::id()));
        let p = dir.join("personas");
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(
            p.join("a.yaml"),
            "id: kids_expert\nname: Kim\ntitle: T\ndescription: D\nwelcome_message: Hello\nsystem_prompt: S\n",
        )
        .unwrap();
        std::fs::write(p.join("b.yaml"), "id: [unclosed").unwrap();
        std::fs::write(p.join("c.yaml"), "id: x\nname: 3\nbogus: 1\n").unwrap();
        let all = all(&dir);
        assert_eq!(all.len(), 7);
        let kids = all.iter().find(|p| p.id == "kids_expert").unwrap();
        assert_eq!(kids.welcome_message, "Hello");
        assert!(all.iter().any(|p| p.id == "tv_executive"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
