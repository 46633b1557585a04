//! Photo processing throughput and peak memory for a 12-megapixel photo (4000 × 3000, a phone
//! camera's), as `uploadPhoto` runs it: decode, orientation, scale to 2048, JPEG encode — then
//! the background thumbnail of the result.
//!
//! `cargo run --release -p service --example photo_bench [rounds]`
//!
//! The source is a camera-like JPEG (quality 92, noisy detail so the codec has work), made once
//! and written to a temporary file; the measuring runs in a fresh process that only reads it, so
//! the process's high-water mark (`VmHWM`) holds nothing of making it. It is read after one photo
//! alone and again after the rounds, which run one at a time and then two at once.

use std::time::Instant;

use image::{ImageEncoder, codecs::jpeg::JpegEncoder};
use service::media::photo::{self, PhotoLimits};

fn camera_jpeg(width: u32, height: u32) -> Vec<u8> {
    let mut pixels = Vec::with_capacity((width * height * 3) as usize);
    let mut seed: u32 = 0x9e37_79b9;
    for y in 0..height {
        for x in 0..width {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let noise = seed & 0x1f;
            pixels.push(((x * 200 / width) + noise) as u8);
            pixels.push(((y * 200 / height) + noise) as u8);
            pixels.push((((x + y) * 100 / (width + height)) + noise * 2) as u8);
        }
    }
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 92)
        .write_image(&pixels, width, height, image::ExtendedColorType::Rgb8)
        .unwrap_or_else(|e| panic!("encode: {e}"));
    out
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let rounds: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    let path = std::env::temp_dir().join("phunu-photo-bench-4000x3000.jpg");
    if std::env::args().nth(2).as_deref() != Some("--measure") {
        if !path.exists() {
            std::fs::write(&path, camera_jpeg(4000, 3000)).unwrap_or_else(|e| panic!("write: {e}"));
        }
        let exe = std::env::current_exe().unwrap_or_else(|e| panic!("exe: {e}"));
        let status = std::process::Command::new(exe)
            .args([rounds.to_string(), "--measure".to_owned()])
            .status()
            .unwrap_or_else(|e| panic!("run: {e}"));
        std::process::exit(status.code().unwrap_or(1));
    }
    let limits = PhotoLimits { max_bytes: 64 << 20, max_pixels: 50_000_000, max_edge: 2048 };
    let source = std::fs::read(&path).unwrap_or_else(|e| panic!("read: {e}"));
    let before = peak_rss_mib();
    println!(
        "source: 4000 x 3000 JPEG, {:.1} MiB; peak RSS before processing {before:.0} MiB",
        source.len() as f64 / 1048576.0
    );

    let started = Instant::now();
    let out = photo::process(&source, limits).unwrap_or_else(|e| panic!("process: {e}"));
    let one = started.elapsed();
    let after_one = peak_rss_mib();
    println!(
        "one photo: {:.0} ms -> {} x {}, {:.0} KiB; peak RSS {after_one:.0} MiB (+{:.0} MiB)",
        one.as_secs_f64() * 1000.0,
        out.width,
        out.height,
        out.jpeg.len() as f64 / 1024.0,
        after_one - before
    );

    let started = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(photo::process(&source, limits).unwrap_or_else(|e| panic!("process: {e}")));
    }
    let serial = started.elapsed().as_secs_f64();
    println!(
        "{rounds} photos one at a time: {:.0} ms each, {:.2} photos/s",
        serial * 1000.0 / rounds as f64,
        rounds as f64 / serial
    );

    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..rounds / 2 {
                    std::hint::black_box(
                        photo::process(&source, limits).unwrap_or_else(|e| panic!("process: {e}")),
                    );
                }
            });
        }
    });
    let parallel = started.elapsed().as_secs_f64();
    let done = (rounds / 2) * 2;
    println!(
        "{done} photos two at a time: {:.2} photos/s; peak RSS {:.0} MiB",
        done as f64 / parallel,
        peak_rss_mib()
    );

    let started = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(photo::thumbnail(&out.jpeg).unwrap_or_else(|e| panic!("thumbnail: {e}")));
    }
    println!(
        "thumbnail of the stored photo: {:.1} ms each",
        started.elapsed().as_secs_f64() * 1000.0 / rounds as f64
    );
}
