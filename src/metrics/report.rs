//! The text [`report`]: every non-zero counter, every metric with samples, the buffer pool.

use super::{buffer_pool, counter_entries, metric, BufferPoolStats, Metric, MetricSnapshot};
use std::fmt::Write;

/// Formats bytes in a binary unit: `"512 B"`, `"64.0 KiB"`, `"256.0 MiB"`, `"1.5 GiB"`.
fn format_bytes(n: usize) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

fn format_pool(p: &BufferPoolStats) -> String {
    format!(
        "Buffer pool:\n  held: {} in {} buffers (limit {})\n  hits: {}; misses: {}; evictions: {}\n",
        format_bytes(p.bytes_held),
        p.buffers_held,
        format_bytes(p.limit),
        p.hits,
        p.misses,
        p.evictions
    )
}

/// Formats seconds in a human unit: `"1.500 s"`, `"1.234 ms"`, `"12.500 µs"`, `"850 ns"`.
fn format_duration(secs: f64) -> String {
    let a = secs.abs();
    if !a.is_finite() {
        format!("{secs} s")
    } else if a >= 1.0 {
        format!("{secs:.3} s")
    } else if a >= 1e-3 {
        format!("{:.3} ms", secs * 1e3)
    } else if a >= 1e-6 {
        format!("{:.3} µs", secs * 1e6)
    } else {
        format!("{:.0} ns", secs * 1e9)
    }
}

/// Formats a plain value: integers without a fraction, others with three decimals.
fn format_value(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

/// Human-readable report of every non-zero counter (including named ones), every metric
/// with samples and the buffer pool ([`buffer_pool`]):
///
/// ```text
/// Counters:
///   cache_hit: 12
///   fallback::exp: 1
/// Metrics:
///   compile_time:
///     TotalSamples: 3
///     Accumulator: 4.512 ms
///     Percentiles: min=1.204 ms; p50=1.498 ms; p90=1.810 ms; p99=1.810 ms; max=1.810 ms
///   graph_size:
///     TotalSamples: 15
///     Accumulator: 630
///     Percentiles: min=40; p50=42; p90=44; p99=44; max=44
/// Buffer pool:
///   held: 12.3 MiB in 7 buffers (limit 256.0 MiB)
///   hits: 40; misses: 7; evictions: 0
/// ```
///
/// An empty section reads `  (none)`.
///
/// ```
/// use lazyjit::metrics;
///
/// metrics::inc_named("doc::report");
/// assert!(metrics::report().contains("doc::report: "));
/// ```
#[must_use]
pub fn report() -> String {
    let snapshots: Vec<MetricSnapshot> = Metric::ALL.into_iter().filter_map(metric).collect();
    let mut out = format_report(&counter_entries(), &snapshots);
    out.push_str(&format_pool(&buffer_pool()));
    out
}

fn format_report(counters: &[(String, u64)], metrics: &[MetricSnapshot]) -> String {
    let mut out = String::from("Counters:\n");
    if counters.is_empty() {
        out.push_str("  (none)\n");
    }
    for (name, v) in counters {
        let _ = writeln!(out, "  {name}: {v}");
    }
    out.push_str("Metrics:\n");
    if metrics.is_empty() {
        out.push_str("  (none)\n");
    }
    for s in metrics {
        let f = if s.is_duration {
            format_duration
        } else {
            format_value
        };
        let _ = writeln!(out, "  {}:", s.name);
        let _ = writeln!(out, "    TotalSamples: {}", s.count);
        let _ = writeln!(out, "    Accumulator: {}", f(s.sum));
        let _ = writeln!(
            out,
            "    Percentiles: min={}; p50={}; p90={}; p99={}; max={}",
            f(s.min),
            f(s.p50),
            f(s.p90),
            f(s.p99),
            f(s.max)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{inc_named, record, Ring};
    use super::*;
    use std::time::Duration;

    #[test]
    fn duration_and_value_formatting() {
        assert_eq!(format_duration(850e-9), "850 ns");
        assert_eq!(format_duration(1.234e-3), "1.234 ms");
        assert_eq!(format_duration(12.5e-6), "12.500 µs");
        assert_eq!(format_duration(2.5), "2.500 s");
        assert_eq!(format_duration(0.0), "0 ns");
        assert_eq!(format_value(42.0), "42");
        assert_eq!(format_value(2.5), "2.500");
    }

    #[test]
    fn format_report_sections() {
        let mut r = Ring::new(16);
        r.push(1.234e-3);
        r.push(850e-9);
        let snap = r.snapshot(Metric::Compile).unwrap();
        let text = format_report(&[("test::metrics::r".to_owned(), 2)], &[snap]);
        assert!(text.starts_with("Counters:\n"));
        assert!(text.contains("  test::metrics::r: 2\n"));
        assert!(text.contains("Metrics:\n  compile_time:\n    TotalSamples: 2\n"));
        assert!(text.contains("min=850 ns;"));
        assert!(text.contains("max=1.234 ms"));
        assert_eq!(
            format_report(&[], &[]),
            "Counters:\n  (none)\nMetrics:\n  (none)\n"
        );
    }

    #[test]
    fn bytes_and_pool_formatting() {
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_bytes(64 << 10), "64.0 KiB");
        assert_eq!(format_bytes(256 << 20), "256.0 MiB");
        assert_eq!(format_bytes(3 << 29), "1.5 GiB");
        let p = BufferPoolStats {
            bytes_held: 3 << 20,
            buffers_held: 2,
            limit: 256 << 20,
            hits: 5,
            misses: 2,
            evictions: 1,
        };
        assert_eq!(
            format_pool(&p),
            "Buffer pool:\n  held: 3.0 MiB in 2 buffers (limit 256.0 MiB)\n  hits: 5; misses: 2; evictions: 1\n"
        );
        assert!(report().contains("\nBuffer pool:\n  held: "));
    }

    #[test]
    fn report_contains_named_counter_and_duration() {
        inc_named("test::metrics::report");
        record(Metric::Execute, Duration::from_micros(1234));
        let text = report();
        assert!(text.contains("  test::metrics::report: "), "{text}");
        // Other tests may reset the metrics concurrently, so only check the metric if present.
        if text.contains("  execute_time:\n") {
            assert!(text.contains(" ms") || text.contains(" µs") || text.contains(" ns"));
        }
    }
}
