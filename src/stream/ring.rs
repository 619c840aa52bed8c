//! The ring buffer a channel's viewers read from: fixed slots of `Bytes` chunks of whole
//! 188-byte packets. The writer never waits; each viewer holds only a `Cursor` (a sequence
//! number), and every viewer is handed the same `Bytes` (a refcount, never a copy). A viewer
//! that falls behind the oldest slot jumps to the newest keyframe and the skip is counted.
//!
//! Keyframe chunks begin with PAT and PMT (the splicer puts them there), so a new viewer that
//! starts at the last keyframe can decode at once (fast tune).
//!
//! Waiting viewers park a `Waker` in a slot of their own, allocated when they attach: a
//! publish wakes them without allocating. The lock is held to clone a `Bytes` or swap a
//! waker, never across an `.await`. It knows nothing of FFmpeg, HTTP or channels.

use std::sync::{Mutex, MutexGuard};
use std::task::Waker;

use bytes::Bytes;

/// 512 chunks of ≤ 12 KiB ≈ 6 MiB: ~12 s at 4 Mbit/s, enough to hold the last keyframe
/// (GOP 2 s) for a new viewer and to absorb a viewer's short stall, small enough for a
/// 1 GiB board running a few channels.
pub const RING_CHUNKS: usize = 512;

/// A chunk holds at most 64 packets (12 032 bytes): one `write` to a socket, and small
/// enough that a slot bounds memory.
pub const CHUNK_MAX_PACKETS: usize = 64;

pub struct Ring {
    inner: Mutex<Inner>,
}

struct Slot {
    bytes: Bytes,
    keyframe: bool,
}

struct Inner {
    slots: Box<[Slot]>,
    next_seq: u64,
    /// The sequence number of the newest keyframe chunk.
    last_keyframe: Option<u64>,
    closed: bool,
    /// One per possible reader; `free` lists the unused ones.
    waiters: Box<[Option<Waker>]>,
    /// Each attached reader's position, by its waiter slot (`DETACHED` when free): the
    /// feeder's pacing reads how far the leading and the slowest readers are behind.
    positions: Box<[u64]>,
    free: Vec<u16>,
}

const DETACHED: u64 = u64::MAX;

/// A reader's position. Dropping it without `Ring::detach` leaks only its waiter slot,
/// so readers detach (the viewer guard does).
#[derive(Debug)]
pub struct Cursor {
    seq: u64,
    waiter: u16,
    /// False until the reader has reached a keyframe (it starts and resumes on one).
    synced: bool,
}

#[derive(Debug)]
pub enum Read {
    Chunk(Bytes),
    /// The reader was overwritten and jumped ahead; `n_skipped` chunks were lost.
    Lagged {
        n_skipped: u64,
    },
    /// Nothing new yet; the waker (if given) is parked and a publish will wake it.
    CaughtUp,
    /// The ring is closed (the channel stopped) and this reader has read everything.
    Closed,
}

impl Ring {
    /// A ring with room for `max_readers` readers at once.
    pub fn new(max_readers: u16) -> Ring {
        let slots = (0..RING_CHUNKS)
            .map(|_| Slot {
                bytes: Bytes::new(),
                keyframe: false,
            })
            .collect();
        Ring {
            inner: Mutex::new(Inner {
                slots,
                next_seq: 0,
                last_keyframe: None,
                closed: false,
                waiters: (0..max_readers).map(|_| None).collect(),
                positions: (0..max_readers).map(|_| DETACHED).collect(),
                free: (0..max_readers).rev().collect(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves whole values behind (every write is one
        // assignment), so the data is still consistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends a chunk (whole packets); `keyframe` when it starts with PAT, PMT and a
    /// keyframe. Wakes every waiting reader.
    pub fn publish(&self, bytes: Bytes, keyframe: bool) {
        let mut inner = self.lock();
        let seq = inner.next_seq;
        let at = (seq % RING_CHUNKS as u64) as usize;
        inner.slots[at] = Slot { bytes, keyframe };
        inner.next_seq = seq + 1;
        if keyframe {
            inner.last_keyframe = Some(seq);
        }
        for waiter in inner.waiters.iter_mut() {
            if let Some(w) = waiter.take() {
                w.wake();
            }
        }
    }

    /// Ends the ring: readers get what is left, then `Closed`.
    pub fn close(&self) {
        let mut inner = self.lock();
        inner.closed = true;
        for waiter in inner.waiters.iter_mut() {
            if let Some(w) = waiter.take() {
                w.wake();
            }
        }
    }

    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// A new reader, positioned at the newest keyframe (or, before the first one, at the
    /// next keyframe to come). `None` when every reader slot is taken.
    pub fn attach(&self) -> Option<Cursor> {
        let mut inner = self.lock();
        let waiter = inner.free.pop()?;
        let oldest = inner.oldest();
        let (seq, synced) = match inner.last_keyframe {
            Some(k) if k >= oldest => (k, true),
            _ => (inner.next_seq, false),
        };
        inner.positions[waiter as usize] = seq;
        Some(Cursor {
            seq,
            waiter,
            synced,
        })
    }

    pub fn detach(&self, cursor: Cursor) {
        let mut inner = self.lock();
        if let Some(slot) = inner.waiters.get_mut(cursor.waiter as usize) {
            *slot = None;
        }
        if let Some(pos) = inner.positions.get_mut(cursor.waiter as usize) {
            *pos = DETACHED;
        }
        inner.free.push(cursor.waiter);
    }

    /// The next chunk for `cursor`. On `CaughtUp`, `waker` is parked until the next publish.
    pub fn read(&self, cursor: &mut Cursor, waker: Option<&Waker>) -> Read {
        let mut inner = self.lock();
        let oldest = inner.oldest();
        if cursor.seq < oldest {
            let n_skipped;
            match inner.last_keyframe {
                Some(k) if k >= oldest => {
                    n_skipped = k - cursor.seq;
                    cursor.seq = k;
                    cursor.synced = true;
                }
                _ => {
                    n_skipped = inner.next_seq - cursor.seq;
                    cursor.seq = inner.next_seq;
                    cursor.synced = false;
                }
            }
            inner.positions[cursor.waiter as usize] = cursor.seq;
            return Read::Lagged { n_skipped };
        }
        if !cursor.synced {
            match inner.last_keyframe {
                Some(k) if k >= cursor.seq => {
                    cursor.seq = k;
                    cursor.synced = true;
                }
                _ => cursor.seq = inner.next_seq,
            }
        }
        if cursor.seq >= inner.next_seq {
            if inner.closed {
                return Read::Closed;
            }
            if let Some(w) = waker {
                let slot = &mut inner.waiters[cursor.waiter as usize];
                match slot {
                    Some(parked) if parked.will_wake(w) => {}
                    _ => *slot = Some(w.clone()),
                }
            }
            return Read::CaughtUp;
        }
        let at = (cursor.seq % RING_CHUNKS as u64) as usize;
        cursor.seq += 1;
        inner.positions[cursor.waiter as usize] = cursor.seq;
        Read::Chunk(inner.slots[at].bytes.clone())
    }

    /// How many chunks `cursor` is behind the newest.
    pub fn lag(&self, cursor: &Cursor) -> u64 {
        self.lock().next_seq.saturating_sub(cursor.seq)
    }

    /// How many chunks the leading and the slowest attached readers are behind the head,
    /// `None` with no reader. One pass over the reader slots (the feeder's pacing).
    pub fn reader_lags(&self) -> Option<(u64, u64)> {
        let inner = self.lock();
        let mut lags = None;
        for pos in inner.positions.iter().filter(|p| **p != DETACHED) {
            let lag = inner.next_seq.saturating_sub(*pos);
            lags = Some(match lags {
                None => (lag, lag),
                Some((lead, slow)) => (lag.min(lead), lag.max(slow)),
            });
        }
        lags
    }

    /// Chunks published so far.
    pub fn n_published(&self) -> u64 {
        self.lock().next_seq
    }

    /// The chunks from the newest keyframe to the head (for HLS segments and tests).
    pub fn since_last_keyframe(&self, out: &mut Vec<Bytes>) {
        let inner = self.lock();
        let oldest = inner.oldest();
        if let Some(k) = inner.last_keyframe.filter(|k| *k >= oldest) {
            for seq in k..inner.next_seq {
                out.push(
                    inner.slots[(seq % RING_CHUNKS as u64) as usize]
                        .bytes
                        .clone(),
                );
            }
        }
    }
}

impl Inner {
    fn oldest(&self) -> u64 {
        self.next_seq.saturating_sub(RING_CHUNKS as u64)
    }
}

impl Cursor {
    pub fn seq(&self) -> u64 {
        self.seq
    }

    pub fn is_synced(&self) -> bool {
        self.synced
    }
}

/// Which chunks a keyframe-starting chunk is; used by readers that cut segments (HLS).
impl Ring {
    pub fn is_keyframe(&self, seq: u64) -> bool {
        let inner = self.lock();
        seq >= inner.oldest()
            && seq < inner.next_seq
            && inner.slots[(seq % RING_CHUNKS as u64) as usize].keyframe
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(n: u8) -> Bytes {
        Bytes::from(vec![n; 4])
    }

    fn next(ring: &Ring, c: &mut Cursor) -> Option<u8> {
        match ring.read(c, None) {
            Read::Chunk(b) => Some(b[0]),
            _ => None,
        }
    }

    #[test]
    fn a_new_reader_starts_at_the_newest_keyframe() {
        let ring = Ring::new(4);
        ring.publish(chunk(0), false);
        ring.publish(chunk(1), true);
        ring.publish(chunk(2), false);
        ring.publish(chunk(3), true);
        ring.publish(chunk(4), false);
        let mut c = ring.attach().unwrap();
        assert_eq!(next(&ring, &mut c), Some(3));
        assert_eq!(next(&ring, &mut c), Some(4));
        assert!(matches!(ring.read(&mut c, None), Read::CaughtUp));
    }

    #[test]
    fn before_any_keyframe_a_reader_waits_for_one() {
        let ring = Ring::new(4);
        let mut c = ring.attach().unwrap();
        ring.publish(chunk(0), false);
        assert!(matches!(ring.read(&mut c, None), Read::CaughtUp));
        ring.publish(chunk(1), false);
        ring.publish(chunk(2), true);
        assert_eq!(next(&ring, &mut c), Some(2));
    }

    #[test]
    fn a_lagging_reader_jumps_to_the_newest_keyframe() {
        let ring = Ring::new(2);
        let mut slow = ring.attach().unwrap();
        let mut fast = ring.attach().unwrap();
        for i in 0..(RING_CHUNKS as u64 * 2 + 10) {
            ring.publish(chunk(i as u8), i % 100 == 0);
            assert_eq!(next(&ring, &mut fast), Some(i as u8));
        }
        let Read::Lagged { n_skipped } = ring.read(&mut slow, None) else {
            panic!("expected a lag");
        };
        assert_eq!(n_skipped, 1000);
        assert_eq!(next(&ring, &mut slow), Some((1000 % 256) as u8));
    }

    #[test]
    fn readers_are_bounded_and_slots_are_reused() {
        let ring = Ring::new(2);
        let a = ring.attach().unwrap();
        let _b = ring.attach().unwrap();
        assert!(ring.attach().is_none());
        ring.detach(a);
        assert!(ring.attach().is_some());
    }

    #[test]
    fn close_ends_readers_after_the_rest() {
        let ring = Ring::new(1);
        let mut c = ring.attach().unwrap();
        ring.publish(chunk(7), true);
        ring.close();
        assert_eq!(next(&ring, &mut c), Some(7));
        assert!(matches!(ring.read(&mut c, None), Read::Closed));
    }

    #[test]
    fn publish_wakes_a_parked_reader() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        struct Count(AtomicUsize);
        impl std::task::Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let ring = Ring::new(1);
        let mut c = ring.attach().unwrap();
        assert!(matches!(ring.read(&mut c, Some(&waker)), Read::CaughtUp));
        assert!(matches!(ring.read(&mut c, Some(&waker)), Read::CaughtUp));
        ring.publish(chunk(1), true);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
    }
}
