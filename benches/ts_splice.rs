//! Splicer cost per packet: a synthetic 3-item stream (PAT, PMT, H.264-like video with a PCR
//! on every frame, each keyframe led by an AUD, SPS and PPS as FFmpeg writes them, AAC-like
//! audio) pushed through `Splicer` in 64 KiB reads, as the channel feeder does; once with
//! every item in the same video parameters, once with the middle one in others (another
//! SPS: a new PMT version at both boundaries). Prints ns per packet (divan's time / packets per iteration) and, through
//! divan's AllocProfiler, allocations per iteration (none is printed when there are none:
//! the goal is 0).

use divan::counter::ItemsCount;
use divan::AllocProfiler;
use exstreamtv::stream::splicer::{Sink, Splicer};
use exstreamtv::stream::ts::{
    write_pat, write_pcr, write_pmt, write_timestamp, Pcr27M, Pid, PmtStream, StreamType, Ticks90k,
    PACKET_LEN,
};

// Allocations per iteration beside the time: the splicer's goal is 0 per packet.
#[global_allocator]
static ALLOC: AllocProfiler = AllocProfiler::system();

fn main() {
    divan::main();
}

struct CountSink(u64);

impl Sink for CountSink {
    fn packet(&mut self, packet: &[u8]) {
        self.0 += packet[3] as u64;
    }
    fn keyframe(&mut self) {}
}

/// An SPS (High, level `level`), as x264 starts one.
fn sps(level: u8) -> [u8; 12] {
    [
        0x67, 0x64, 0x00, level, 0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01, 0x10,
    ]
}

/// One item: PAT, PMT, 90 video frames of 8 packets (the first with PES header and PCR),
/// one audio packet per 1920 ticks; `level` is its SPS's level.
fn item(level: u8) -> Vec<u8> {
    let mut out = Vec::new();
    let mut p = [0u8; PACKET_LEN];
    write_pat(&mut p, 1, 1, Pid(0x1000));
    out.extend_from_slice(&p);
    let streams = [
        PmtStream {
            stream_type: StreamType::H264,
            pid: Pid(0x100),
            es_info: heapless::Vec::new(),
        },
        PmtStream {
            stream_type: StreamType::AAC_ADTS,
            pid: Pid(0x101),
            es_info: heapless::Vec::new(),
        },
    ];
    write_pmt(&mut p, Pid(0x1000), 1, 0, Pid(0x100), &streams);
    out.extend_from_slice(&p);
    let mut cc = [0u8; 2];
    let mut audio = 124_590i64;
    for f in 0..90i64 {
        let dts = 126_000 + f * 3000;
        while audio <= dts {
            out.extend_from_slice(&pes(0x101, audio, audio, false, &mut cc[1]));
            audio += 1920;
        }
        let mut video = pes(0x100, dts + 3000, dts, f % 30 == 0, &mut cc[0]);
        write_es(&mut video[31..], f % 30 == 0, level);
        out.extend_from_slice(&video);
        for _ in 0..7 {
            let mut c = [0x55u8; PACKET_LEN];
            c[0] = 0x47;
            c[1] = 0x01;
            c[2] = 0x00;
            cc[0] = (cc[0] + 1) & 15;
            c[3] = 0x10 | cc[0];
            out.extend_from_slice(&c);
        }
    }
    out
}

/// The start of a video frame's elementary stream: AUD, then SPS and PPS and an IDR slice
/// on a keyframe, a non-IDR slice otherwise.
fn write_es(out: &mut [u8], key: bool, level: u8) {
    let mut es: Vec<u8> = vec![0, 0, 0, 1, 0x09, 0xf0];
    if key {
        es.extend_from_slice(&[0, 0, 0, 1]);
        es.extend_from_slice(&sps(level));
        es.extend_from_slice(&[0, 0, 0, 1, 0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0]);
        es.extend_from_slice(&[0, 0, 1, 0x65, 0x88, 0x84]);
    } else {
        es.extend_from_slice(&[0, 0, 1, 0x41, 0x9a, 0x02]);
    }
    out[..es.len()].copy_from_slice(&es);
}

fn pes(pid: u16, pts: i64, dts: i64, key: bool, cc: &mut u8) -> [u8; PACKET_LEN] {
    let mut p = [0xffu8; PACKET_LEN];
    p[0] = 0x47;
    p[1] = 0x40 | (pid >> 8) as u8;
    p[2] = pid as u8;
    *cc = (*cc + 1) & 15;
    p[3] = 0x30 | *cc;
    p[4] = 7;
    p[5] = if key { 0x50 } else { 0x10 };
    write_pcr(&mut p[6..12], Pcr27M::from_90k(Ticks90k(dts - 9000)));
    p[12..16].copy_from_slice(&[0, 0, 1, 0xe0]);
    p[18] = 0x80;
    p[19] = 0xc0;
    p[20] = 10;
    p[21] = 0x30;
    write_timestamp(&mut p[21..26], Ticks90k(pts));
    p[26] = 0x10;
    write_timestamp(&mut p[26..31], Ticks90k(dts));
    p
}

#[divan::bench]
fn splice_three_items(bencher: divan::Bencher) {
    let one = item(0x1f);
    bench_splice(bencher, [one.clone(), one.clone(), one].concat());
}

#[divan::bench]
fn splice_three_items_other_parameters_between(bencher: divan::Bencher) {
    let one = item(0x1f);
    bench_splice(bencher, [one.clone(), item(0x28), one].concat());
}

/// Three items of equal length, each pushed in 64 KiB reads after `begin_item`.
fn bench_splice(bencher: divan::Bencher, input: Vec<u8>) {
    let n_packets = (input.len() / PACKET_LEN) as u64;
    let mut splicer = Splicer::new();
    let mut sink = CountSink(0);
    bencher
        .counter(ItemsCount::new(n_packets))
        .with_inputs(|| input.clone())
        .bench_local_refs(|buf| {
            for item in buf.chunks_mut(input.len() / 3) {
                splicer.begin_item();
                for read in item.chunks_mut(65_536 / PACKET_LEN * PACKET_LEN) {
                    splicer.push(read, &mut sink);
                }
            }
            divan::black_box(sink.0)
        });
}
