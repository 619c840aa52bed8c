//! The two clocks of an MPEG-TS as types: `Ticks90k`, the 90 kHz clock of PTS and DTS (an
//! instant or a span of it), and `Pcr27M`, the 27 MHz program clock reference. Both are a
//! plain `i64` at run time; what the types forbid is adding one clock to the other. The
//! only ways across are explicit: `Pcr27M::from_90k` (× 300), `Pcr27M::base` (÷ 300) and
//! `Pcr27M::with_base`.
//!
//! Values are unwrapped (they may pass the 33-bit wrap of the wire fields); `ts` wraps them
//! when it writes a packet. It knows nothing of packets or streams.

use std::ops::{Add, AddAssign, Mul, Sub};

use super::ts::{PCR_HZ, PTS_HZ, PTS_WRAP};

/// PCR ticks per 90 kHz tick: the PCR base counts at 90 kHz, its extension 0..300 within.
const PCR_PER_90K: i64 = PCR_HZ / PTS_HZ;

/// 90 kHz ticks: a PTS or DTS, or a span between two (a shift, a frame's duration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Ticks90k(pub i64);

/// 27 MHz ticks: a PCR (base × 300 + extension), or a span between two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pcr27M(pub i64);

impl Ticks90k {
    pub const ZERO: Ticks90k = Ticks90k(0);

    pub const fn from_ms(ms: i64) -> Ticks90k {
        Ticks90k(ms * (PTS_HZ / 1000))
    }

    /// Whole milliseconds, rounded towards zero.
    pub const fn as_ms(self) -> i64 {
        self.0 / (PTS_HZ / 1000)
    }

    /// This 33-bit wire value placed on the unwrapped axis nearest `near`.
    pub fn nearest_to(self, near: Ticks90k) -> Ticks90k {
        Ticks90k(super::ts::unwrap(near.0, self.0, PTS_WRAP))
    }
}

impl Pcr27M {
    pub const ZERO: Pcr27M = Pcr27M(0);

    pub const fn from_ms(ms: i64) -> Pcr27M {
        Pcr27M(ms * (PCR_HZ / 1000))
    }

    /// The PCR of a 90 kHz instant (extension 0).
    pub const fn from_90k(ticks: Ticks90k) -> Pcr27M {
        Pcr27M(ticks.0 * PCR_PER_90K)
    }

    /// The 90 kHz base (rounded towards zero: the extension is dropped).
    pub const fn base(self) -> Ticks90k {
        Ticks90k(self.0 / PCR_PER_90K)
    }

    /// The same extension on another base: how a PCR is unwrapped and shifted, which
    /// happens on the 90 kHz axis the PTS share.
    pub const fn with_base(self, base: Ticks90k) -> Pcr27M {
        Pcr27M(base.0 * PCR_PER_90K + self.0 % PCR_PER_90K)
    }
}

macro_rules! arithmetic {
    ($t:ident) => {
        impl Add for $t {
            type Output = $t;
            fn add(self, rhs: $t) -> $t {
                $t(self.0 + rhs.0)
            }
        }
        impl AddAssign for $t {
            fn add_assign(&mut self, rhs: $t) {
                self.0 += rhs.0;
            }
        }
        impl Sub for $t {
            type Output = $t;
            fn sub(self, rhs: $t) -> $t {
                $t(self.0 - rhs.0)
            }
        }
        /// A span `n` times over (`n` frames of one duration).
        impl Mul<i64> for $t {
            type Output = $t;
            fn mul(self, n: i64) -> $t {
                $t(self.0 * n)
            }
        }
    };
}

arithmetic!(Ticks90k);
arithmetic!(Pcr27M);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_match_the_wire_arithmetic() {
        let pcr = Pcr27M(123_456_789_012);
        assert_eq!(pcr.base(), Ticks90k(123_456_789_012 / 300));
        assert_eq!(pcr.with_base(pcr.base()), pcr);
        assert_eq!(
            pcr.with_base(pcr.base() + Ticks90k(10)),
            Pcr27M(123_456_789_012 + 3000)
        );
        assert_eq!(Pcr27M::from_90k(Ticks90k(63_000)), Pcr27M(63_000 * 300));
        assert_eq!(Pcr27M::from_ms(80), Pcr27M(80 * 27_000));
        assert_eq!(Ticks90k::from_ms(700), Ticks90k(63_000));
        assert_eq!(Ticks90k(179).as_ms(), 1);
        assert_eq!(Ticks90k(-179).as_ms(), -1);
        assert_eq!(
            Ticks90k(5).nearest_to(Ticks90k(PTS_WRAP - 10)),
            Ticks90k(PTS_WRAP + 5)
        );
    }
}
