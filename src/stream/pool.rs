//! The tuner pool: a bound on concurrent FFmpeg processes, which is also the HDHomeRun
//! TunerCount. A tuner is one distinct channel (or one `/iptv/stream` item) being streamed;
//! every viewer of a channel shares its tuner. When none is free a tune fails at once (the
//! caller answers 503 with `X-HDHomeRun-Error: 805`), never waits.
//!
//! The limit is read at each acquire (the setting applies live); lowering it never stops a
//! running channel, it only refuses new ones. It knows nothing of FFmpeg or HTTP.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::ops::ids::ChannelId;

/// The hard upper bound of tuners (the config and setting allow 1–16).
pub const MAX_TUNERS: usize = crate::config::MAX_TUNERS as usize;

/// Who holds a tuner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Channel(ChannelId),
    /// One `/iptv/stream/{media_id}` request (numbered, since each has its own FFmpeg).
    Media(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolError {
    AllTunersInUse,
    /// `tuner{n}` with n ≥ the tuner count.
    NoSuchTuner,
}

impl std::fmt::Display for PoolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PoolError::AllTunersInUse => f.write_str("All tuners in use"),
            PoolError::NoSuchTuner => f.write_str("no such tuner"),
        }
    }
}

#[derive(Default)]
pub struct Pool {
    slots: Mutex<[Option<Owner>; MAX_TUNERS]>,
}

/// A held tuner; dropping it frees the tuner.
pub struct Permit {
    pool: Arc<Pool>,
    index: u16,
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, [Option<Owner>; MAX_TUNERS]> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes tuner `want` (or the first free one below `limit`) for `owner`.
    pub fn acquire(
        self: &Arc<Self>,
        owner: Owner,
        limit: u16,
        want: Option<u16>,
    ) -> Result<Permit, PoolError> {
        let mut slots = self.lock();
        let index = pick(&slots, limit, want)?;
        slots[index as usize] = Some(owner);
        Ok(Permit {
            pool: self.clone(),
            index,
        })
    }

    /// Whether `acquire` would succeed now (HEAD: reserves nothing).
    pub fn would_grant(&self, limit: u16, want: Option<u16>) -> Result<(), PoolError> {
        pick(&self.lock(), limit, want).map(|_| ())
    }

    /// The owner of every tuner below `limit` (status.json's TunerStatus).
    pub fn tuners(&self, limit: u16) -> Vec<Option<Owner>> {
        let slots = self.lock();
        slots[..(limit as usize).min(MAX_TUNERS)].to_vec()
    }

    pub fn in_use(&self) -> usize {
        self.lock().iter().filter(|s| s.is_some()).count()
    }
}

fn pick(
    slots: &[Option<Owner>; MAX_TUNERS],
    limit: u16,
    want: Option<u16>,
) -> Result<u16, PoolError> {
    let limit = (limit as usize).min(MAX_TUNERS);
    let in_use = slots.iter().filter(|s| s.is_some()).count();
    if in_use >= limit {
        return Err(PoolError::AllTunersInUse);
    }
    match want {
        Some(n) if n as usize >= limit => Err(PoolError::NoSuchTuner),
        Some(n) if slots[n as usize].is_some() => Err(PoolError::AllTunersInUse),
        Some(n) => Ok(n),
        None => slots[..limit]
            .iter()
            .position(Option::is_none)
            .map(|i| i as u16)
            .ok_or(PoolError::AllTunersInUse),
    }
}

impl Permit {
    pub fn tuner(&self) -> u16 {
        self.index
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.pool.lock()[self.index as usize] = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_are_bounded_and_freed_on_drop() {
        let pool = Arc::new(Pool::default());
        let a = pool.acquire(Owner::Channel(ChannelId(1)), 2, None).unwrap();
        let b = pool.acquire(Owner::Channel(ChannelId(2)), 2, None).unwrap();
        assert_eq!((a.tuner(), b.tuner()), (0, 1));
        assert_eq!(
            pool.acquire(Owner::Channel(ChannelId(3)), 2, None).err(),
            Some(PoolError::AllTunersInUse)
        );
        assert_eq!(pool.would_grant(2, None), Err(PoolError::AllTunersInUse));
        drop(a);
        assert_eq!(pool.in_use(), 1);
        let c = pool.acquire(Owner::Channel(ChannelId(3)), 2, None).unwrap();
        assert_eq!(c.tuner(), 0);
        assert_eq!(
            pool.tuners(2),
            vec![
                Some(Owner::Channel(ChannelId(3))),
                Some(Owner::Channel(ChannelId(2)))
            ]
        );
    }

    #[test]
    fn a_named_tuner_must_exist_and_be_idle() {
        let pool = Arc::new(Pool::default());
        let _a = pool
            .acquire(Owner::Channel(ChannelId(1)), 4, Some(2))
            .unwrap();
        assert_eq!(pool.would_grant(4, Some(2)), Err(PoolError::AllTunersInUse));
        assert_eq!(pool.would_grant(4, Some(4)), Err(PoolError::NoSuchTuner));
        assert_eq!(pool.would_grant(4, Some(0)), Ok(()));
        // A lowered limit refuses new tunes while the running one continues.
        assert_eq!(pool.would_grant(1, None), Err(PoolError::AllTunersInUse));
    }
}
