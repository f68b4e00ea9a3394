//! A token's usage as a bar chart: inline SVG written on the server, so the page
//! needs no script, no chart library and nothing from another origin (the pages'
//! CSP allows none). Each bar stacks a bucket's answers (allowed, forbidden, rate
//! limited, usage exhausted); its `<title>` is the tooltip, and the legend gives
//! the totals in words for those who do not see the bars.

use maud::{Markup, html};
use tessera_core::timefmt::format_rfc3339;
use tessera_engine::lifecycle::{Granularity, UsageBucket};

/// The drawing's size in its own units (it scales to the page's width).
const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 180.0;
/// Room for the axis labels: left of the bars, and under them.
const LEFT: f64 = 44.0;
const BOTTOM: f64 = 22.0;
const TOP: f64 = 8.0;

/// The answers a bar stacks, bottom up: the CSS class that colours each, and its
/// name in the tooltip and legend.
const SERIES: [(&str, &str); 4] = [
    ("valid", "allowed"),
    ("forbidden", "forbidden"),
    ("rate-limited", "rate limited"),
    ("exhausted", "usage exhausted"),
];

fn counts(bucket: &UsageBucket) -> [u64; 4] {
    let tally = &bucket.1;
    [
        tally.valid,
        tally.forbidden,
        tally.rate_limited,
        tally.usage_exhausted,
    ]
}

/// The chart of `buckets`, oldest first, with its legend.
pub fn usage_chart(buckets: &[UsageBucket], granularity: Granularity) -> Markup {
    let totals = buckets.iter().fold([0u64; 4], |mut sum, bucket| {
        for (total, count) in sum.iter_mut().zip(counts(bucket)) {
            *total += count;
        }
        sum
    });
    let tallest = buckets
        .iter()
        .map(|bucket| counts(bucket).iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let plot_height = HEIGHT - TOP - BOTTOM;
    let slot = (WIDTH - LEFT) / buckets.len().max(1) as f64;
    let bar = (slot * 0.8).max(1.0);
    let scale = plot_height / tallest as f64;
    let span = match granularity {
        Granularity::Hour => "the last 24 hours, by the hour",
        Granularity::Day => "the last 30 days, by the day",
    };
    let summary = SERIES
        .iter()
        .zip(totals)
        .map(|((_, name), total)| format!("{total} {name}"))
        .collect::<Vec<_>>()
        .join(", ");
    // A label under every sixth bucket: four or five across the axis.
    let label_every = (buckets.len() / 5).max(1);
    html! {
        figure.usage {
            svg.chart xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (WIDTH) " " (HEIGHT) }
                role="img" aria-labelledby="usage-title usage-desc" {
                title #usage-title { "Answers for this token, " (span) }
                desc #usage-desc { (summary) }
                line.axis x1=(LEFT) y1=(HEIGHT - BOTTOM) x2=(WIDTH) y2=(HEIGHT - BOTTOM) {}
                line.grid x1=(LEFT) y1=(TOP) x2=(WIDTH) y2=(TOP) {}
                text.label x=(LEFT - 6.0) y=(TOP + 4.0) text-anchor="end" { (tallest) }
                text.label x=(LEFT - 6.0) y=(HEIGHT - BOTTOM) text-anchor="end" { "0" }
                @for (n, bucket) in buckets.iter().enumerate() {
                    @let x = LEFT + n as f64 * slot + (slot - bar) / 2.0;
                    @let when = label(bucket.0, granularity);
                    g.bucket data-start=(format_rfc3339(bucket.0)) data-total=(counts(bucket).iter().sum::<u64>()) {
                        title { (when) ": " (tooltip(bucket)) }
                        @for (class, y, height) in stack(bucket, scale) {
                            rect class=(class) x=(round(x)) y=(round(y)) width=(round(bar)) height=(round(height)) {}
                        }
                    }
                    @if n % label_every == 0 {
                        text.label x=(round(x + bar / 2.0)) y=(HEIGHT - 6.0) text-anchor="middle" { (short(bucket.0, granularity)) }
                    }
                }
            }
            figcaption {
                ul.legend {
                    @for ((class, name), total) in SERIES.iter().zip(totals) {
                        li { span class={ "swatch " (class) } aria-hidden="true" {} (total) " " (name) }
                    }
                }
            }
        }
    }
}

/// A bucket's bars, bottom up: each answer's class, top and height (none for an
/// answer it has no count of).
fn stack(bucket: &UsageBucket, scale: f64) -> Vec<(&'static str, f64, f64)> {
    let mut base = HEIGHT - BOTTOM;
    SERIES
        .iter()
        .zip(counts(bucket))
        .filter(|(_, count)| *count > 0)
        .map(|((class, _), count)| {
            let height = count as f64 * scale;
            base -= height;
            (*class, base, height)
        })
        .collect()
}

fn tooltip(bucket: &UsageBucket) -> String {
    SERIES
        .iter()
        .zip(counts(bucket))
        .map(|((_, name), count)| format!("{count} {name}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Two decimals are plenty for a drawing 720 units wide.
fn round(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// `2026-01-31 18:00 UTC`, or `2026-01-31` for a day.
fn label(start_ms: i64, granularity: Granularity) -> String {
    let text = format_rfc3339(start_ms);
    match granularity {
        Granularity::Hour => format!("{} {} UTC", &text[..10], &text[11..16]),
        Granularity::Day => text[..10].to_owned(),
    }
}

/// Under the axis: `18:00`, or `01-31` for a day.
fn short(start_ms: i64, granularity: Granularity) -> String {
    let text = format_rfc3339(start_ms);
    match granularity {
        Granularity::Hour => text[11..16].to_owned(),
        Granularity::Day => text[5..10].to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_store::Tally;

    #[test]
    fn each_bucket_stacks_its_answers_scaled_to_the_tallest() {
        let hour = 3_600_000;
        let buckets = vec![
            (
                0,
                Tally {
                    valid: 2,
                    forbidden: 2,
                    ..Tally::default()
                },
            ),
            (hour, Tally::default()),
            (
                2 * hour,
                Tally {
                    valid: 1,
                    ..Tally::default()
                },
            ),
        ];
        let svg = usage_chart(&buckets, Granularity::Hour).into_string();
        assert_eq!(svg.matches("<rect").count(), 3, "{svg}");
        assert_eq!(svg.matches("class=\"bucket\"").count(), 3);
        assert!(svg.contains("data-total=\"4\""));
        assert!(svg.contains("<desc id=\"usage-desc\">3 allowed, 2 forbidden, 0 rate limited, 0 usage exhausted</desc>"));
        assert!(svg.contains("1970-01-01 00:00 UTC: 2 allowed, 2 forbidden"));
        let full = HEIGHT - TOP - BOTTOM;
        assert!(
            svg.contains(&format!("height=\"{}\"", round(full / 2.0))),
            "{svg}"
        );
    }

    #[test]
    fn no_use_draws_an_empty_chart() {
        let svg = usage_chart(&[], Granularity::Day).into_string();
        assert_eq!(svg.matches("<rect").count(), 0);
        assert!(svg.contains("the last 30 days"));
    }
}
