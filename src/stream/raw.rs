//! `/iptv/stream/{media_id}?raw=1`: EXStreamTV's behaviour, the library file itself with
//! `Range` support (or a redirect for remote items, decided by `stream::http`). This module
//! owns the single-range parsing (RFC 9110 §14), the content type by extension, and the body
//! that reads the file from disk in `READ_CHUNK` pieces as the client takes them: the file
//! is never held in memory whole, and nothing runs through FFmpeg or the tuner pool.
//!
//! It knows nothing of the database or the router.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use tokio::io::AsyncRead;

/// Read from the file at a time: one socket write's worth, and the only buffer a raw
/// download holds, whatever the file's size.
pub const READ_CHUNK: usize = 64 * 1024;

/// What a `Range` header asks of a file of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAsk {
    /// No usable range (absent, another unit, several ranges, or malformed): the whole file.
    Whole,
    /// Bytes `start..=end` (206).
    Part { start: u64, end: u64 },
    /// A valid range that lies beyond the file (416).
    Unsatisfiable,
}

/// Parses one `bytes=` range against a length. Several ranges are answered with the whole
/// file (allowed by RFC 9110 §14.2: a server may ignore `Range`), as are malformed ones.
pub fn parse_range(header: Option<&str>, len: u64) -> RangeAsk {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeAsk::Whole;
    };
    if spec.contains(',') {
        return RangeAsk::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAsk::Whole;
    };
    let num = |s: &str| -> Option<u64> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    match (first.trim().is_empty(), last.trim().is_empty()) {
        // `-n`: the last n bytes.
        (true, false) => match num(last) {
            Some(0) => RangeAsk::Unsatisfiable,
            Some(_) if len == 0 => RangeAsk::Unsatisfiable,
            Some(n) => RangeAsk::Part {
                start: len.saturating_sub(n),
                end: len - 1,
            },
            None => RangeAsk::Whole,
        },
        // `a-`: from a to the end.
        (false, true) => match num(first) {
            Some(a) if a >= len => RangeAsk::Unsatisfiable,
            Some(a) => RangeAsk::Part {
                start: a,
                end: len - 1,
            },
            None => RangeAsk::Whole,
        },
        // `a-b`, clipped to the file; b < a is malformed.
        (false, false) => match (num(first), num(last)) {
            (Some(a), Some(b)) if a <= b => {
                if a >= len {
                    RangeAsk::Unsatisfiable
                } else {
                    RangeAsk::Part {
                        start: a,
                        end: b.min(len - 1),
                    }
                }
            }
            _ => RangeAsk::Whole,
        },
        (true, true) => RangeAsk::Whole,
    }
}

/// The media type of a file by its extension (case-insensitive).
pub fn content_type(path: &std::path::Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "mp4" | "m4v" => "video/mp4",
        "mkv" => "video/x-matroska",
        "webm" => "video/webm",
        "ts" | "m2ts" | "mts" => "video/mp2t",
        "avi" => "video/x-msvideo",
        "mov" => "video/quicktime",
        "mpg" | "mpeg" | "vob" => "video/mpeg",
        "wmv" => "video/x-ms-wmv",
        "flv" => "video/x-flv",
        "ogv" => "video/ogg",
        "3gp" => "video/3gpp",
        "mp3" => "audio/mpeg",
        "m4a" | "aac" => "audio/mp4",
        "flac" => "audio/flac",
        "ogg" | "oga" => "audio/ogg",
        "wav" => "audio/wav",
        _ => "application/octet-stream",
    }
}

/// `remaining` bytes of an open file (already positioned), `READ_CHUNK` at a time.
pub struct FileBody {
    file: tokio::fs::File,
    remaining: u64,
    /// The one read buffer, allocated when the download starts.
    buf: Box<[u8]>,
}

impl FileBody {
    pub fn new(file: tokio::fs::File, remaining: u64) -> FileBody {
        FileBody {
            file,
            remaining,
            buf: vec![0u8; READ_CHUNK].into_boxed_slice(),
        }
    }
}

impl hyper::body::Body for FileBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.remaining == 0 {
            return Poll::Ready(None);
        }
        let want = this.remaining.min(READ_CHUNK as u64) as usize;
        let mut read_buf = tokio::io::ReadBuf::new(&mut this.buf[..want]);
        match Pin::new(&mut this.file).poll_read(cx, &mut read_buf) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Ready(Ok(())) => {
                let n = read_buf.filled().len();
                if n == 0 {
                    // The file shrank under us: the promised length cannot be met.
                    return Poll::Ready(Some(Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the file ended early",
                    ))));
                }
                this.remaining -= n as u64;
                // One copy per read: hyper keeps the frame until the socket took it.
                Poll::Ready(Some(Ok(Frame::data(Bytes::copy_from_slice(
                    read_buf.filled(),
                )))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let r = |h: &str| parse_range(Some(h), 1000);
        assert_eq!(parse_range(None, 1000), RangeAsk::Whole);
        assert_eq!(r("bytes=0-99"), RangeAsk::Part { start: 0, end: 99 });
        assert_eq!(
            r("bytes=900-5000"),
            RangeAsk::Part {
                start: 900,
                end: 999
            }
        );
        assert_eq!(
            r("bytes=10-"),
            RangeAsk::Part {
                start: 10,
                end: 999
            }
        );
        assert_eq!(
            r("bytes=-100"),
            RangeAsk::Part {
                start: 900,
                end: 999
            }
        );
        assert_eq!(r("bytes=-5000"), RangeAsk::Part { start: 0, end: 999 });
        assert_eq!(r("bytes=1000-"), RangeAsk::Unsatisfiable);
        assert_eq!(r("bytes=1000-1001"), RangeAsk::Unsatisfiable);
        assert_eq!(r("bytes=-0"), RangeAsk::Unsatisfiable);
        for ignored in [
            "items=0-1",
            "bytes=5-1",
            "bytes=a-b",
            "bytes=0-1,5-6",
            "bytes=-",
            "bytes=1",
        ] {
            assert_eq!(r(ignored), RangeAsk::Whole, "{ignored}");
        }
        assert_eq!(parse_range(Some("bytes=0-"), 0), RangeAsk::Unsatisfiable);
    }

    #[test]
    fn types_by_extension() {
        use std::path::Path;
        assert_eq!(content_type(Path::new("/a/b.MP4")), "video/mp4");
        assert_eq!(content_type(Path::new("x.mkv")), "video/x-matroska");
        assert_eq!(content_type(Path::new("x.ts")), "video/mp2t");
        assert_eq!(content_type(Path::new("noext")), "application/octet-stream");
    }
}
