//! Ring fan-out: one publish of a 64-packet chunk read by 1, 10 and 100 viewer cursors (each
//! read clones the same `Bytes`, as the HTTP body does before hyper writes it). Divan's
//! AllocProfiler prints allocations per iteration: the send path's goal is 0.

use bytes::{Bytes, BytesMut};
use divan::counter::BytesCount;
use divan::AllocProfiler;
use exstreamtv::stream::ring::{Read, Ring, CHUNK_MAX_PACKETS};
use exstreamtv::stream::ts::PACKET_LEN;

#[global_allocator]
static ALLOC: AllocProfiler = AllocProfiler::system();

fn main() {
    divan::main();
}

/// Chunks as the channel makes them: split from one `BytesMut` block and frozen, so every
/// clone is a refcount increment.
fn chunks(n: usize) -> Vec<Bytes> {
    let len = CHUNK_MAX_PACKETS * PACKET_LEN;
    let mut block = BytesMut::zeroed(len * n);
    (0..n).map(|_| block.split_to(len).freeze()).collect()
}

#[divan::bench(args = [1, 10, 100])]
fn publish_and_read(bencher: divan::Bencher, n_viewers: usize) {
    let ring = Ring::new(n_viewers as u16);
    let mut cursors: Vec<_> = (0..n_viewers)
        .map(|_| ring.attach().expect("slot"))
        .collect();
    let pool = chunks(64);
    let mut i = 0usize;
    bencher
        .counter(BytesCount::new(
            (CHUNK_MAX_PACKETS * PACKET_LEN * n_viewers) as u64,
        ))
        .bench_local(|| {
            let chunk = pool[i % pool.len()].clone();
            ring.publish(chunk, i % 60 == 0);
            i += 1;
            let mut sent = 0usize;
            for cursor in cursors.iter_mut() {
                loop {
                    match ring.read(cursor, None) {
                        Read::Chunk(b) => sent += divan::black_box(b).len(),
                        Read::Lagged { .. } => continue,
                        Read::CaughtUp | Read::Closed => break,
                    }
                }
            }
            sent
        });
}
