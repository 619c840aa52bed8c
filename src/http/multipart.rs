//! The one `multipart/form-data` reader: the content of one named part of a body already
//! read whole (and bounded by its caller). Uploads here are one file each — a channel
//! icon, a watermark, a YAML channel, a cookies file — so no streaming parser is needed.

use super::ApiError;

/// The content of the part named `name` (`Content-Disposition: form-data; name="…"`).
/// A body that is not multipart, or is cut short, is a 400; a missing part a 422 naming it.
pub fn part<'b>(content_type: &str, body: &'b [u8], name: &str) -> Result<&'b [u8], ApiError> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))
        .map(|b| b.trim_matches('"'))
        .filter(|b| !b.is_empty() && content_type.starts_with("multipart/form-data"))
        .ok_or_else(|| {
            ApiError::bad_request("expected a multipart/form-data body with a boundary")
        })?;
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let wanted = format!("name=\"{name}\"");
    let mut rest = body;
    while let Some(at) = find(rest, delimiter) {
        rest = &rest[at + delimiter.len()..];
        if rest.starts_with(b"--") {
            break;
        }
        let Some(head_end) = find(rest, b"\r\n\r\n") else {
            break;
        };
        let head = String::from_utf8_lossy(&rest[..head_end]).to_ascii_lowercase();
        let content = &rest[head_end + 4..];
        let end = find(content, delimiter)
            .ok_or_else(|| ApiError::bad_request("the multipart body is truncated"))?;
        let part = &content[..end];
        if head.contains(&wanted) {
            return Ok(part.strip_suffix(b"\r\n").unwrap_or(part));
        }
        rest = &content[end..];
    }
    Err(ApiError::invalid(
        name,
        format_args!("field required (multipart part named {name:?})"),
    ))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_named_part_and_refuses_the_rest() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nno\r\n\
                     --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\
                     Content-Type: image/png\r\n\r\nPNGDATA\r\n--XyZ--\r\n";
        let ct = "multipart/form-data; boundary=XyZ";
        assert_eq!(part(ct, body, "file").unwrap(), b"PNGDATA");
        assert_eq!(part(ct, body, "other").unwrap(), b"no");
        assert_eq!(
            part(ct, body, "yaml_file").unwrap_err().status.as_u16(),
            422
        );
        assert_eq!(
            part("application/json", body, "file")
                .unwrap_err()
                .status
                .as_u16(),
            400
        );
        assert!(part("multipart/form-data; boundary=nope", body, "file").is_err());
        assert!(part(ct, b"--XyZ\r\nbad", "file").is_err());
        let cut = b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nPNG";
        assert_eq!(part(ct, cut, "file").unwrap_err().status.as_u16(), 400);
    }
}
