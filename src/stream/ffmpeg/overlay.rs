//! A watermark as an FFmpeg filter graph: the programme's picture (`argv`'s scale, rate
//! and title filters) with the PNG laid over it by `overlay`, then the encoder's format.
//! Sizes and margins are percentages of the output frame, or of the picture inside its
//! letterbox (`place_within_source_content`), turned into pixels here, so the graph holds
//! only numbers. Pure: it knows nothing of files, processes or SQL.
//!
//! Opacity multiplies the PNG's own alpha (`colorchannelmixer=aa`). An intermittent
//! watermark is switched by `enable` on the wall clock's cycle and fades in and out
//! (`FADE_S`): its PNG is then a looping input (`-loop 1`, one small frame per output
//! frame), and a `geq` multiplies its alpha by the ramp — enabled only during the two fades
//! of each cycle, so the per-pixel expression runs over a logo-sized image for two seconds
//! per cycle and never over the picture.

use crate::kinds::WatermarkLocation;
use crate::scheduler::cursor::Watermark;

/// Where the picture sits in the output frame, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Rect {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

impl Rect {
    /// The picture of a `src` source scaled into `frame` keeping its aspect (the `pad`
    /// scaling mode), centred.
    pub fn fitted(frame: (u32, u32), src: (u32, u32)) -> Rect {
        let ((fw, fh), (sw, sh)) = (frame, src);
        if sw == 0 || sh == 0 {
            return Rect::whole(frame);
        }
        let (w, h) = if u64::from(sw) * u64::from(fh) > u64::from(sh) * u64::from(fw) {
            (fw, (u64::from(sh) * u64::from(fw) / u64::from(sw)) as u32)
        } else {
            ((u64::from(sw) * u64::from(fh) / u64::from(sh)) as u32, fh)
        };
        Rect {
            x: (fw - w) / 2,
            y: (fh - h) / 2,
            w,
            h,
        }
    }

    pub fn whole((w, h): (u32, u32)) -> Rect {
        Rect { x: 0, y: 0, w, h }
    }
}

/// One watermark to draw in one run.
#[derive(Debug, Clone, Copy)]
pub(super) struct Overlay<'a> {
    /// The input index of the picture, and of the PNG.
    pub video_from: usize,
    pub png_input: usize,
    pub mark: &'a Watermark,
    /// What the percentages are of.
    pub rect: Rect,
}

/// The fade in and the fade out of an intermittent watermark, at most half its showing.
const FADE_S: f64 = 1.0;

fn percent_of(total: u32, percent: f64) -> u32 {
    (f64::from(total) * percent.clamp(0.0, 100.0) / 100.0).round() as u32
}

impl Overlay<'_> {
    /// `-filter_complex`: `picture` (filters, no leading comma) on the video, the PNG
    /// prepared and laid over it, then `tail` (the encoder's format, leading comma).
    pub fn graph(&self, picture: &str, tail: &str) -> String {
        let mark = self.mark;
        let mut png = String::from("format=rgba");
        if let Some(percent) = mark.width_percent {
            // Even, at least 2: the encoders' 4:2:0 needs no odd size anywhere.
            let w = (percent_of(self.rect.w, percent) & !1).max(2);
            png.push_str(&format!(",scale={w}:-2"));
        }
        if mark.opacity < 100 {
            png.push_str(&format!(
                ",colorchannelmixer=aa={:.2}",
                f64::from(mark.opacity) / 100.0
            ));
        }
        let mut enable = String::new();
        if let Some((every_s, for_s)) = mark.every {
            let every_s = every_s.max(1);
            let phase = mark.phase_s % every_s;
            png.push_str(&fade(phase, every_s, for_s));
            // The looping PNG never ends: the picture's end ends the graph.
            enable = format!(":shortest=1:enable='lt(mod(t+{phase},{every_s}),{for_s})'");
        }
        format!(
            "[{}:v:0]{picture}[main];[{}:v]{png}[mark];[main][mark]overlay={}{enable}{tail}[v]",
            self.video_from,
            self.png_input,
            self.position()
        )
    }

    /// The input options of the PNG: an intermittent one loops (its fade needs a frame per
    /// output frame), at the output's rate.
    pub fn png_input_args(&self, rate: u32) -> Option<[String; 4]> {
        self.mark.every.map(|_| {
            [
                "-loop".to_owned(),
                "1".to_owned(),
                "-framerate".to_owned(),
                rate.max(1).to_string(),
            ]
        })
    }

    /// `x=…:y=…` of the PNG's top-left corner (`w`, `h`: the PNG's size in overlay's terms).
    fn position(&self) -> String {
        let Rect { x, y, w, h } = self.rect;
        let mx = percent_of(w, self.mark.horizontal_margin_percent);
        let my = percent_of(h, self.mark.vertical_margin_percent);
        let (left, top) = (x + mx, y + my);
        let (right, bottom) = ((x + w).saturating_sub(mx), (y + h).saturating_sub(my));
        match self.mark.location {
            WatermarkLocation::TopLeft => format!("x={left}:y={top}"),
            WatermarkLocation::TopRight => format!("x={right}-w:y={top}"),
            WatermarkLocation::BottomLeft => format!("x={left}:y={bottom}-h"),
            WatermarkLocation::BottomRight => format!("x={right}-w:y={bottom}-h"),
            WatermarkLocation::Center => {
                format!("x={}+({w}-w)/2:y={}+({h}-h)/2", x, y)
            }
        }
    }
}

/// `geq` scaling the PNG's alpha by the cycle's ramp, `m` seconds into the showing: up over
/// the first `d`, down over the last; enabled only then (the middle passes through).
fn fade(phase: u32, every_s: u32, for_s: u32) -> String {
    let d = FADE_S.min(f64::from(for_s) / 2.0);
    let m = format!("mod(T+{phase},{every_s})");
    let mt = format!("mod(t+{phase},{every_s})");
    format!(
        ",geq=r='r(X,Y)':g='g(X,Y)':b='b(X,Y)':a='alpha(X,Y)*clip(min({m},{for_s}-{m})/{d},0,1)':enable='lt({mt},{d})+between({mt},{for_s}-{d},{for_s})'"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    fn mark(location: WatermarkLocation) -> Watermark {
        Watermark {
            png: "/data/cache/watermarks/ab.png".into(),
            location,
            width_percent: Some(10.0),
            horizontal_margin_percent: 5.0,
            vertical_margin_percent: 10.0,
            opacity: 100,
            every: None,
            within_content: false,
            phase_s: 0,
        }
    }

    #[test]
    fn a_watermark_is_scaled_placed_and_made_translucent() {
        let m = mark(WatermarkLocation::BottomRight);
        let overlay = Overlay {
            video_from: 0,
            png_input: 1,
            mark: &m,
            rect: Rect::whole((1280, 720)),
        };
        expect!["[0:v:0]scale=1280:720[main];[1:v]format=rgba,scale=128:-2[mark];[main][mark]overlay=x=1216-w:y=648-h,format=yuv420p[v]"]
            .assert_eq(&overlay.graph("scale=1280:720", ",format=yuv420p"));
        let m = Watermark {
            opacity: 50,
            every: Some((900, 15)),
            phase_s: 1000,
            width_percent: None,
            ..mark(WatermarkLocation::TopLeft)
        };
        let overlay = Overlay {
            mark: &m,
            ..overlay
        };
        expect!["[0:v:0]p[main];[1:v]format=rgba,colorchannelmixer=aa=0.50,geq=r='r(X,Y)':g='g(X,Y)':b='b(X,Y)':a='alpha(X,Y)*clip(min(mod(T+100,900),15-mod(T+100,900))/1,0,1)':enable='lt(mod(t+100,900),1)+between(mod(t+100,900),15-1,15)'[mark];[main][mark]overlay=x=64:y=72:shortest=1:enable='lt(mod(t+100,900),15)',f[v]"]
            .assert_eq(&overlay.graph("p", ",f"));
        assert_eq!(
            overlay.png_input_args(25).unwrap().join(" "),
            "-loop 1 -framerate 25"
        );
    }

    #[test]
    fn every_corner_and_the_centre_within_the_letterbox() {
        // 4:3 in 16:9: the picture is 960x720 at x=160.
        let rect = Rect::fitted((1280, 720), (640, 480));
        assert_eq!(
            rect,
            Rect {
                x: 160,
                y: 0,
                w: 960,
                h: 720
            }
        );
        // 2.39:1 in 16:9: letterboxed top and bottom.
        assert_eq!(Rect::fitted((1280, 720), (1920, 800)).y, 93);
        let placed: Vec<String> = WatermarkLocation::ALL
            .iter()
            .map(|location| {
                let m = mark(*location);
                Overlay {
                    video_from: 0,
                    png_input: 1,
                    mark: &m,
                    rect,
                }
                .position()
            })
            .collect();
        expect![[r#"
            [
                "x=208:y=72",
                "x=1072-w:y=72",
                "x=208:y=648-h",
                "x=1072-w:y=648-h",
                "x=160+(960-w)/2:y=0+(720-h)/2",
            ]
        "#]]
        .assert_debug_eq(&placed);
    }
}
