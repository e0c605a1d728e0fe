//! cudarc buffers, pinned memory, the stream and event timing on a real GPU, without TensorRT.
//! These need an NVIDIA GPU and driver, so they are `#[ignore]`d in the default run (where they
//! would otherwise pass without checking anything); on a GPU machine run them with
//! `cargo test --release -p calibr8-tensorrt --test device -- --ignored`. There, a missing
//! driver or device fails the test with the reason.

use calibr8_tensorrt::device::{cuda_available, Device, IoBuffer};

/// 16 MiB of f32 per direction: large enough to see copy bandwidth, small enough for CI.
const LEN: usize = 4 << 20;

fn device() -> Device {
    if let Err(why) = cuda_available() {
        panic!("this test needs a CUDA device: {why}");
    }
    Device::new(0).expect("CUDA is present, so the device opens")
}

fn pattern(len: usize) -> Vec<f32> {
    // Distinct, exactly representable values (no two neighbours equal, signs alternate).
    (0..len)
        .map(|i| ((i % 65_521) as f32 - 32_760.0) * if i % 2 == 0 { 1.0 } else { -0.5 })
        .collect()
}

#[test]
#[ignore = "needs an NVIDIA GPU: cargo test --release -p calibr8-tensorrt --test device -- --ignored"]
fn round_trip_copies_are_exact() {
    let device = device();
    println!("device: {}", device.name().expect("name"));
    let data = pattern(LEN);

    let mut input = IoBuffer::new(&device, "in", LEN).expect("input buffers");
    let mut output = IoBuffer::new(&device, "out", LEN).expect("output buffers");
    input.stage(&data).expect("stage");
    device.upload(&input.host, &mut input.device).expect("htod");
    // Device → device through the same stream, then back: proves both buffers hold the data.
    device.stream().memcpy_dtod(&input.device, &mut output.device).expect("dtod");
    device.download(&output.device, &mut output.host).expect("dtoh");
    device.synchronize().expect("sync");
    let back = output.host_values().expect("host values");
    assert_eq!(back.len(), data.len());
    let mismatches = back.iter().zip(&data).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
    assert_eq!(mismatches, 0, "round trip changed {mismatches} of {LEN} values");
    println!("round trip of {} MiB: bit-exact", (LEN * 4) >> 20);

    // Too much data for a buffer is an error, not a silent truncation.
    let err = input.stage(&vec![0.0; LEN + 1]).expect_err("overflow");
    assert!(err.to_string().contains("do not fit"), "{err}");
}

#[test]
#[ignore = "needs an NVIDIA GPU: cargo test --release -p calibr8-tensorrt --test device -- --ignored"]
fn event_timing_of_copies() {
    let device = device();
    let mut buf = IoBuffer::new(&device, "x", LEN).expect("buffers");
    buf.stage(&pattern(LEN)).expect("stage");
    let bytes = (LEN * 4) as f64;

    let htod = device.time(3, 20, |d| d.upload(&buf.host, &mut buf.device)).expect("time htod");
    let mut host_out = device.alloc_pinned(LEN).expect("pinned");
    let dtoh = device.time(3, 20, |d| d.download(&buf.device, &mut host_out)).expect("time dtoh");
    let round = device
        .time(3, 20, |d| {
            d.upload(&buf.host, &mut buf.device)?;
            d.download(&buf.device, &mut host_out)
        })
        .expect("time round trip");

    for (what, t) in [("host->device", &htod), ("device->host", &dtoh), ("round trip", &round)] {
        let moved = if what == "round trip" { 2.0 * bytes } else { bytes };
        println!(
            "{what:>13} {} MiB: {t}; {:.1} GB/s at the median",
            (LEN * 4) >> 20,
            moved / (t.median_ms * 1e-3) / 1e9
        );
        assert_eq!(t.runs, 20);
        assert!(t.min_ms > 0.0 && t.min_ms <= t.median_ms && t.median_ms <= t.max_ms, "{t:?}");
    }
    // A round trip does both copies, so it cannot be faster than either alone.
    assert!(
        round.median_ms >= htod.median_ms.max(dtoh.median_ms) * 0.9,
        "{round:?} vs {htod:?} {dtoh:?}"
    );
    device.synchronize().expect("sync");
    assert_eq!(host_out.as_slice().expect("host")[..8], pattern(8)[..]);
}
