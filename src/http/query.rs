//! Query strings and percent-decoding. Pairs are decoded lazily as they are iterated, so a
//! lookup that finds nothing allocates nothing.

use std::borrow::Cow;

/// Iterates `key=value` pairs of a raw query string, percent- and `+`-decoded (lossy UTF-8).
pub fn pairs(query: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode_form(k), decode_form(v))
    })
}

/// The first value of `name`, if present.
pub fn get<'q>(query: Option<&'q str>, name: &str) -> Option<Cow<'q, str>> {
    pairs(query?).find(|(k, _)| k == name).map(|(_, v)| v)
}

fn decode_form(s: &str) -> Cow<'_, str> {
    if !s.contains('+') {
        return percent_decode(s);
    }
    Cow::Owned(percent_decode(&s.replace('+', " ")).into_owned())
}

/// Decodes `%XX` escapes; invalid escapes stay as they are, invalid UTF-8 becomes U+FFFD.
pub fn percent_decode(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes() {
        assert_eq!(percent_decode("a%20b%2"), "a b%2");
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
        assert_eq!(
            get(Some("x=1&q=a+b%26c&q=2"), "q").as_deref(),
            Some("a b&c")
        );
        assert_eq!(get(Some("flag"), "flag").as_deref(), Some(""));
        assert_eq!(get(None, "q"), None);
    }
}
