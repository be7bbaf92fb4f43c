//! A latency histogram with fixed memory and ~1% precision (the idea of HdrHistogram).
//!
//! A load generator records hundreds of thousands of latencies a second. Keeping every sample
//! in a vector and sorting it at the end costs memory that grows with the run (8 bytes a
//! sample: 80 MB for a ten-second run at 1M req/s) and a sort at the end. A percentile does
//! not need every sample exactly, only *about* where each one fell, so we count samples in
//! buckets whose width grows with the value: 1 ns wide near 0, 0.5 us wide near 100 us, 0.27 s
//! wide near 60 s. Every bucket is at most 1/128 (0.8%) of the values it holds, so any
//! percentile read back is within 0.8% of the true one, and the memory is 3,808 counters
//! whatever the run length.
//!
//! ```text
//!  value (ns)         0 ..255 | 256 ..511 | 512 ..1023 | 1024 ..2047 | ...  | 2^35 .. 60 s
//!  bucket width         1     |    2      |     4      |      8      |      |   2^28
//!  counters            256    |   128     |    128     |     128     | ...  |    96
//! ```
//!
//! Two histograms add up counter by counter ([`Histogram::merge`]), so each load-generator
//! thread keeps its own and they are summed at the end.

use std::time::Duration;

// ANCHOR: layout
/// Each power-of-two range is split into this many equal sub-buckets (2^7 = 128): a bucket
/// is at most 1/128 of its values wide, the histogram's relative precision.
const SUB_BITS: u32 = 7;
const SUB: usize = 1 << SUB_BITS;
/// The largest value kept exactly: 60 s in nanoseconds. Larger values count as 60 s (the
/// true maximum is still remembered in `max`).
const HIGHEST: u64 = 60_000_000_000;
/// Counters needed to reach `HIGHEST`: 256 exact ones, then 128 per power of two.
const COUNTERS: usize = index_of(HIGHEST) + 1;

/// Which counter a value (in ns) falls in. Values below 256 are their own index; above,
/// `shift` is how many low bits the bucket ignores, and the top 8 bits (128..=255) pick the
/// sub-bucket inside that power of two.
const fn index_of(value: u64) -> usize {
    if value < 2 * SUB as u64 {
        return value as usize;
    }
    let msb = 63 - value.leading_zeros(); // >= 8 here
    let shift = msb - SUB_BITS;
    let sub = (value >> shift) as usize; // 128..=255
    2 * SUB + (shift as usize - 1) * SUB + (sub - SUB)
}

/// The smallest and largest value (ns) that land in counter `index`.
const fn range_of(index: usize) -> (u64, u64) {
    if index < 2 * SUB {
        return (index as u64, index as u64);
    }
    let shift = ((index - 2 * SUB) / SUB + 1) as u32;
    let sub = ((index - 2 * SUB) % SUB + SUB) as u64;
    let low = sub << shift;
    (low, low + (1 << shift) - 1)
}
// ANCHOR_END: layout

/// Counts of latencies in log-linear buckets from 0 to 60 s, ~0.8% precision, 30 KB fixed.
#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64]>,
    count: u64,
    /// Exact sum of every recorded value (ns), so the mean is exact.
    sum: u128,
    min: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new()
    }
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.count)
            .field("min", &self.min())
            .field("mean", &self.mean())
            .field("max", &self.max())
            .finish()
    }
}

impl Histogram {
    /// An empty histogram (allocates its counters once, here).
    pub fn new() -> Histogram {
        Histogram { counts: vec![0; COUNTERS].into_boxed_slice(), count: 0, sum: 0, min: u64::MAX, max: 0 }
    }

    // ANCHOR: record
    /// Records one latency: a shift, a subtraction and an increment, no allocation.
    pub fn record(&mut self, latency: Duration) {
        let ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.record_n(ns, 1);
    }

    /// Records `n` samples of `ns` nanoseconds.
    pub fn record_n(&mut self, ns: u64, n: u64) {
        if n == 0 {
            return;
        }
        self.counts[index_of(ns.min(HIGHEST))] += n;
        self.count += n;
        self.sum += u128::from(ns) * u128::from(n);
        self.min = self.min.min(ns);
        self.max = self.max.max(ns);
    }
    // ANCHOR_END: record

    /// Adds every sample of `other` (one histogram per thread, summed at the end).
    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine += theirs;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// How many samples were recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The exact mean (zero when empty).
    pub fn mean(&self) -> Duration {
        match self.count {
            0 => Duration::ZERO,
            n => Duration::from_nanos((self.sum / u128::from(n)) as u64),
        }
    }

    /// The exact largest sample (zero when empty).
    pub fn max(&self) -> Duration {
        Duration::from_nanos(self.max)
    }

    /// The exact smallest sample (zero when empty).
    pub fn min(&self) -> Duration {
        if self.count == 0 { Duration::ZERO } else { Duration::from_nanos(self.min) }
    }

    // ANCHOR: percentile
    /// The value below or at which `p` percent of the samples fall (`p` in 0..=100), to the
    /// histogram's precision: the top of the bucket holding the sample of that rank, but never
    /// above the true maximum (so `percentile(100.0) == max()`). Zero when empty.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.count == 0 {
            return Duration::ZERO;
        }
        let p = if p.is_nan() { 100.0 } else { p.clamp(0.0, 100.0) };
        // The rank of the sample we want, 1-based: the ceil(p% of count)-th smallest.
        let rank = ((p / 100.0 * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (index, &n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                let (_, high) = range_of(index);
                return Duration::from_nanos(high.min(self.max));
            }
        }
        self.max()
    }
    // ANCHOR_END: percentile

    /// Standard deviation, from bucket midpoints (so to the histogram's precision).
    pub fn stdev(&self) -> Duration {
        if self.count < 2 {
            return Duration::ZERO;
        }
        let mean = self.sum as f64 / self.count as f64;
        let mut squares = 0.0;
        for (index, &n) in self.counts.iter().enumerate().filter(|(_, n)| **n > 0) {
            let (low, high) = range_of(index);
            let mid = (low as f64 + high as f64) / 2.0;
            squares += n as f64 * (mid - mean) * (mid - mean);
        }
        Duration::from_nanos((squares / self.count as f64).sqrt() as u64)
    }

    /// Every counter that holds samples: `(lowest ns, highest ns, count)`, from fast to slow.
    pub fn buckets(&self) -> impl Iterator<Item = (u64, u64, u64)> + '_ {
        let nonzero = self.counts.iter().enumerate().filter(|(_, n)| **n > 0);
        nonzero.map(|(index, &n)| {
            let (low, high) = range_of(index);
            (low, high, n)
        })
    }

    // ANCHOR: svg
    /// The histogram as an SVG picture (`stage6-loadgen --histogram FILE.svg`): bars of how
    /// many samples fell at each latency, on a logarithmic time axis from the fastest to the
    /// slowest sample, and a line at p50, p90, p99 and p99.9. The 3,808 counters are too fine
    /// to draw one bar each: they are summed into [`SVG_BARS`] bars of equal width on the axis.
    /// Hand-written SVG, no dependency.
    pub fn svg(&self, title: &str) -> String {
        const W: f64 = 900.0;
        const H: f64 = 360.0;
        const LEFT: f64 = 60.0;
        const TOP: f64 = 50.0;
        const PLOT_W: f64 = W - LEFT - 30.0;
        const PLOT_H: f64 = H - TOP - 60.0;
        // The axis: log10 of nanoseconds, a little wider than the samples so no bar is cut.
        let lo = (self.min.max(1) as f64 * 0.9).log10();
        let hi = (self.max.max(2) as f64 * 1.1).log10().max(lo + 0.01);
        let x = |ns: f64| LEFT + PLOT_W * (ns.max(1.0).log10() - lo) / (hi - lo);
        let mut bars = [0u64; SVG_BARS];
        for (low, high, n) in self.buckets() {
            let mid = (low as f64 + high as f64) / 2.0;
            let bar = ((x(mid) - LEFT) / PLOT_W * SVG_BARS as f64) as usize;
            bars[bar.min(SVG_BARS - 1)] += n;
        }
        let tallest = bars.iter().copied().max().unwrap_or(0).max(1) as f64;

        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" \
             font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
             <text x=\"8\" y=\"18\" font-size=\"14\" font-weight=\"bold\">{}</text>\n\
             <text x=\"8\" y=\"36\" fill=\"#4a5568\">{} samples; mean {}, max {}; \
             bar height: samples at that latency (log time axis)</text>\n",
            escape(title),
            self.count,
            short(self.mean().as_nanos() as f64),
            short(self.max as f64)
        );
        let bar_w = PLOT_W / SVG_BARS as f64;
        for (i, &n) in bars.iter().enumerate().filter(|(_, n)| **n > 0) {
            let h = (PLOT_H * n as f64 / tallest).max(1.0);
            svg += &format!(
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"#2b6cb0\">\
                 <title>{n} samples</title></rect>\n",
                LEFT + i as f64 * bar_w,
                TOP + PLOT_H - h,
                (bar_w - 1.0).max(1.0)
            );
        }
        // Ticks at 1, 2 and 5 times each power of ten that falls on the axis.
        let base = TOP + PLOT_H;
        svg += &format!(
            "<line x1=\"{LEFT}\" y1=\"{base}\" x2=\"{:.1}\" y2=\"{base}\" stroke=\"#1a202c\"/>\n",
            LEFT + PLOT_W
        );
        for power in (lo.floor() as i32)..=(hi.ceil() as i32) {
            for m in [1.0, 2.0, 5.0] {
                let ns = m * 10f64.powi(power);
                if ns.log10() < lo || ns.log10() > hi {
                    continue;
                }
                let tx = x(ns);
                svg += &format!(
                    "<line x1=\"{tx:.1}\" y1=\"{base}\" x2=\"{tx:.1}\" y2=\"{:.1}\" stroke=\"#1a202c\"/>\
                     <text x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
                    base + 5.0,
                    base + 18.0,
                    short(ns)
                );
            }
        }
        for (k, p) in [50.0, 90.0, 99.0, 99.9].into_iter().enumerate() {
            let at = self.percentile(p);
            let px = x(at.as_nanos() as f64);
            // Near the right edge the label goes on the line's left.
            let (dx, anchor) = if px > W - 120.0 { (-3.0, "end") } else { (3.0, "start") };
            svg += &format!(
                "<line x1=\"{px:.1}\" y1=\"{TOP}\" x2=\"{px:.1}\" y2=\"{base}\" stroke=\"#e53e3e\" stroke-dasharray=\"4 3\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#e53e3e\" text-anchor=\"{anchor}\">p{p} {}</text>\n",
                px + dx,
                TOP + 12.0 + 13.0 * k as f64,
                short(at.as_nanos() as f64)
            );
        }
        svg += &format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">latency</text>\n</svg>\n",
            W - 10.0,
            base + 36.0
        );
        svg
    }
    // ANCHOR_END: svg
}

/// How many bars [`Histogram::svg`] draws across its time axis.
pub const SVG_BARS: usize = 120;

/// `1500.0` ns -> `"1.5us"`: a short label for the axis.
fn short(ns: f64) -> String {
    let (value, unit) = match ns {
        n if n >= 1e9 => (n / 1e9, "s"),
        n if n >= 1e6 => (n / 1e6, "ms"),
        n if n >= 1e3 => (n / 1e3, "us"),
        n => (n, "ns"),
    };
    let digits = if value >= 10.0 || value.fract() == 0.0 { 0 } else { 1 };
    format!("{value:.digits$}{unit}")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_lands_in_a_bucket_that_contains_it() {
        // Walk values across the whole range (every value below 4096, then a geometric
        // walk): each one's bucket range must contain it and be at most 1/128 of it wide.
        let mut values: Vec<u64> = (0..4096).collect();
        let mut v = 4096u64;
        while v <= HIGHEST {
            values.extend([v - 1, v, v + 1]);
            v = v * 21 / 20;
        }
        values.push(HIGHEST);
        for v in values {
            let index = index_of(v);
            assert!(index < COUNTERS, "{v} -> {index}");
            let (low, high) = range_of(index);
            assert!(low <= v && v <= high, "{v} not in [{low}, {high}]");
            assert!((high - low) * 128 <= v.max(1), "bucket of {v} too wide: [{low}, {high}]");
        }
        assert_eq!(COUNTERS, 3808);
    }

    #[test]
    fn neighbouring_buckets_tile_the_range() {
        for index in 1..COUNTERS {
            assert_eq!(range_of(index).0, range_of(index - 1).1 + 1, "gap before bucket {index}");
        }
    }

    fn within_precision(got: Duration, want_ns: u64) -> bool {
        let got = got.as_nanos() as f64;
        let want = want_ns as f64;
        (got - want).abs() <= want / 128.0 + 1.0
    }

    #[test]
    fn uniform_distribution_percentiles() {
        // 1 us .. 100 ms in 1 us steps: the p-th percentile is p% of 100 ms.
        let mut h = Histogram::new();
        for us in 1..=100_000u64 {
            h.record(Duration::from_micros(us));
        }
        assert_eq!(h.count(), 100_000);
        for p in [1.0, 10.0, 50.0, 90.0, 99.0, 99.9] {
            let want = (p / 100.0 * 100_000.0) as u64 * 1000;
            let got = h.percentile(p);
            assert!(within_precision(got, want), "p{p}: got {got:?}, want {want} ns");
        }
        assert_eq!(h.percentile(100.0), Duration::from_millis(100));
        assert_eq!(h.max(), Duration::from_millis(100));
        assert_eq!(h.min(), Duration::from_micros(1));
        // Exact mean: (1 + 100000) / 2 us.
        assert_eq!(h.mean(), Duration::from_nanos(50_000_500));
        // Uniform on [0, 100 ms]: stdev = 100 ms / sqrt(12) = 28.87 ms.
        let sd = h.stdev().as_secs_f64();
        assert!((sd - 0.028_867).abs() < 0.000_3, "stdev {sd}");
    }

    #[test]
    fn bimodal_distribution_percentiles() {
        // 90% fast (200 us) and 10% slow (45 ms): p50 and p90 are fast, p91+ slow.
        let mut h = Histogram::new();
        h.record_n(200_000, 9_000);
        h.record_n(45_000_000, 1_000);
        assert!(within_precision(h.percentile(50.0), 200_000));
        assert!(within_precision(h.percentile(90.0), 200_000));
        assert!(within_precision(h.percentile(90.01), 45_000_000));
        assert_eq!(h.percentile(99.0), Duration::from_millis(45));
        assert!(within_precision(h.percentile(0.0), 200_000));
    }

    #[test]
    fn merge_equals_recording_everything_in_one() {
        let (mut a, mut b, mut all) = (Histogram::new(), Histogram::new(), Histogram::new());
        for i in 0..10_000u64 {
            // A deterministic spread over six decades.
            let ns = 1_000 + (i * 7919 % 10_000) * (1 + i % 1000) * 13;
            if i % 3 == 0 { &mut a } else { &mut b }.record_n(ns, 1);
            all.record_n(ns, 1);
        }
        a.merge(&b);
        assert_eq!(a.count(), all.count());
        assert_eq!(a.mean(), all.mean());
        assert_eq!(a.max(), all.max());
        assert_eq!(a.min(), all.min());
        for p in [50.0, 90.0, 99.0, 99.99] {
            assert_eq!(a.percentile(p), all.percentile(p));
        }
    }

    #[test]
    fn empty_and_out_of_range() {
        let mut h = Histogram::new();
        assert_eq!(h.percentile(50.0), Duration::ZERO);
        assert_eq!(h.mean(), Duration::ZERO);
        assert_eq!(h.min(), Duration::ZERO);
        // Two minutes is past the top bucket: counted there, but max stays exact.
        h.record(Duration::from_secs(120));
        assert_eq!(h.max(), Duration::from_secs(120));
        assert!(h.percentile(50.0) >= Duration::from_secs(60));
        h.record(Duration::MAX);
        assert_eq!(h.count(), 2);
    }

    #[test]
    fn the_svg_has_a_bar_per_filled_slot_and_the_percentile_lines() {
        let mut h = Histogram::new();
        h.record_n(200_000, 9_000);
        h.record_n(45_000_000, 1_000);
        let svg = h.svg("a <test>");
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("a &lt;test&gt;"), "the title is escaped");
        // Two latencies, two bars, the taller one nine times the other's samples.
        assert_eq!(svg.matches("fill=\"#2b6cb0\"").count(), 2, "{svg}");
        assert!(svg.contains("<title>9000 samples</title>") && svg.contains("<title>1000 samples</title>"));
        // A percentile is the top of its bucket: 200 us reads back as 201 us (within 1/128).
        for label in ["p50 201us", "p90 201us", "p99 45ms", "p99.9 45ms"] {
            assert!(svg.contains(label), "no {label:?} in {svg}");
        }
        assert_eq!(short(1500.0), "1.5us");
        assert_eq!(short(100_000_000.0), "100ms");
    }
}
