//! Exercise 6l.5 (scripts/exercise.sh check 6l.5): `Histogram::record_corrected(value,
//! expected_interval)`, HdrHistogram's correction for coordinated omission: a sample that took
//! longer than the interval between sends also stands for the requests that would have been
//! sent meanwhile and waited behind it.
#![cfg(feature = "exercises")]

use stage6_http::histogram::Histogram;
use std::sync::mpsc;
use std::time::Duration;

fn ns(n: u64) -> Duration {
    Duration::from_nanos(n)
}

/// Values below 256 ns are kept exactly, so these answers are exact.
#[test]
fn a_stall_of_ten_intervals_counts_ten_samples() {
    let mut h = Histogram::new();
    h.record_corrected(ns(100), ns(10));
    // 100 itself, and the 90, 80, ..., 10 the requests queued behind it would have seen.
    assert_eq!(h.count(), 10, "100 ns at a 10 ns interval is 100, 90, ..., 10");
    assert_eq!((h.min(), h.max(), h.mean()), (ns(10), ns(100), ns(55)));
    assert_eq!(h.percentile(50.0), ns(50));
    assert_eq!(h.percentile(90.0), ns(90));
}

#[test]
fn a_sample_within_its_interval_is_one_sample() {
    let mut h = Histogram::new();
    h.record_corrected(ns(7), ns(10));
    h.record_corrected(ns(10), ns(10));
    assert_eq!(h.count(), 2, "a sample no longer than the interval is recorded once, as is");
    assert_eq!((h.min(), h.max()), (ns(7), ns(10)));
    // Not an exact multiple: 25 at 10 is 25 and 15 (5 would be below the interval).
    let mut h = Histogram::new();
    h.record_corrected(ns(25), ns(10));
    assert_eq!((h.count(), h.min(), h.max()), (2, ns(15), ns(25)));
}

#[test]
fn a_zero_interval_means_no_correction() {
    // A loop that subtracts the interval would never end here: run it on a thread.
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let mut h = Histogram::new();
        h.record_corrected(ns(100), Duration::ZERO);
        let _ = done.send(h.count());
    });
    let count = finished
        .recv_timeout(Duration::from_secs(10))
        .expect("record_corrected(_, 0) did not return: a zero interval must turn the correction off");
    assert_eq!(count, 1);
}

#[test]
fn it_matches_recording_the_missing_samples_by_hand() {
    let (mut corrected, mut by_hand) = (Histogram::new(), Histogram::new());
    corrected.record_corrected(Duration::from_millis(250), Duration::from_millis(20));
    let mut value = 250;
    while value >= 20 {
        by_hand.record(Duration::from_millis(value));
        value -= 20;
    }
    assert_eq!(corrected.count(), 12);
    for p in [0.0, 25.0, 50.0, 90.0, 99.0, 100.0] {
        assert_eq!(corrected.percentile(p), by_hand.percentile(p), "p{p}");
    }
    assert_eq!(corrected.mean(), by_hand.mean());
}
