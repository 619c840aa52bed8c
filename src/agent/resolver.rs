//! The AutoResolver: a detected pattern becomes the bounded loop's planned steps and a
//! report. Rules, deterministic: a crash loop on one item skips it and marks it broken; a
//! stall restarts the channel (through the gate); a source that is unreachable or refuses
//! us is reported, never restarted (a restart cannot bring a server back and would only
//! spend the gate's budget).

use super::patterns::{Finding, Pattern};
use super::tools::{Call, Tool};

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub steps: Vec<Call>,
    pub report: String,
}

fn report(steps: Vec<Call>, report: impl Into<String>) -> Plan {
    Plan {
        steps,
        report: report.into(),
    }
}

/// The plan for `finding`; `media_id` is the media item behind its playout item (looked up
/// by the caller: the detector sees only `playout_items.id`).
pub fn plan(finding: &Finding, media_id: Option<i64>) -> Plan {
    let channel = finding.channel.as_deref();
    let on =
        |what: &str| channel.map_or_else(|| what.to_string(), |c| format!("{what} on channel {c}"));
    match (finding.pattern, channel, finding.item_id) {
        (Pattern::CrashLoop, Some(ch), Some(item)) => report(
            std::iter::once(Call::new(Tool::SkipItem).on_channel(ch).at_playout_item(item))
                .chain(media_id.map(|m| Call::new(Tool::MarkBroken).with_item(m)))
                .collect(),
            format!(
                "playout item {item} keeps failing on channel {ch} ({}): skip it and mark its media broken so its timelines drop it",
                finding.cause.map_or("cause unknown", |c| c.as_str())
            ),
        ),
        (Pattern::FileUnreadable | Pattern::CodecUnsupported, _, Some(_)) => report(
            media_id.map(|m| Call::new(Tool::MarkBroken).with_item(m)).into_iter().collect(),
            "the item's file cannot be read or decoded: mark it broken",
        ),
        (Pattern::Stall, Some(ch), _) => report(
            vec![Call::new(Tool::RestartChannel).on_channel(ch)],
            format!("FFmpeg stalled on channel {ch}: restart it through the restart gate"),
        ),
        (Pattern::SourceUnreachable, ..) => report(
            Vec::new(),
            on("the source server is unreachable") + ": no restart (it cannot bring the server back); check the server and the network",
        ),
        (Pattern::SourceUnauthorized, ..) => report(
            Vec::new(),
            on("the source refuses our credentials (401/403)") + ": no restart; renew the token in the media source's settings",
        ),
        (Pattern::DiskFull, ..) => report(Vec::new(), "the disk is full: free space; nothing to restart"),
        (Pattern::EncoderUnavailable, ..) => report(
            Vec::new(),
            on("the hardware encoder is unavailable") + ": set ffmpeg.hardware_acceleration to none or fix the device",
        ),
        (Pattern::TunerExhaustion, ..) => report(
            Vec::new(),
            "all tuners are in use: raise hdhomerun.tuner_count if the machine can take it, or stop a stream",
        ),
        _ => report(Vec::new(), on(&format!("{} detected", finding.pattern.as_str()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(pattern: Pattern, item: Option<i64>) -> Finding {
        Finding {
            pattern,
            confidence: 0.9,
            channel: Some("101".into()),
            item_id: item,
            cause: Some(Pattern::FileUnreadable),
            evidence: vec![],
        }
    }

    #[test]
    fn a_crash_loop_skips_and_marks_broken_and_an_unreachable_source_is_never_restarted() {
        let p = plan(&finding(Pattern::CrashLoop, Some(7)), Some(70));
        let tools: Vec<Tool> = p.steps.iter().map(|c| c.tool).collect();
        assert_eq!(tools, [Tool::SkipItem, Tool::MarkBroken]);
        assert_eq!(p.steps[0].playout_item_id, Some(7));
        assert_eq!(p.steps[1].item_id, Some(70));
        for pattern in [
            Pattern::SourceUnreachable,
            Pattern::SourceUnauthorized,
            Pattern::DiskFull,
        ] {
            let p = plan(&finding(pattern, None), None);
            assert!(p.steps.is_empty(), "{pattern:?}");
            assert!(
                p.report.contains("no restart") || p.report.contains("nothing"),
                "{}",
                p.report
            );
        }
        assert_eq!(
            plan(&finding(Pattern::Stall, None), None).steps[0].tool,
            Tool::RestartChannel
        );
    }
}
