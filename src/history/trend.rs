//! The trend: pass rate and control counts per run, as a text table and as
//! a self-contained HTML page whose line chart is inline SVG laid out here
//! and drawn by the `trend.html` Tera template (no script, no assets).

use std::fmt::Write as _;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::diff::{percent, shown};
use super::store::TrendPoint;
use crate::escape::terminal;

/// The trend page's template, embedded like the report templates.
pub const TREND_TEMPLATE: &str = "trend.html";
const TREND_TEMPLATE_TEXT: &str = include_str!("../../templates/trend.html");

/// The longest `--since`: a century, far beyond any history, well inside
/// what a date can be moved back by.
pub const MAX_SINCE_DAYS: i64 = 36_500;

/// Parses `--since`: a number and a unit, `90d`, `12h`, `4w`, `30m`, `45s`,
/// at most [`MAX_SINCE_DAYS`].
pub fn parse_since(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let bad = || format!("--since {text}: expected a number and a unit: s, m, h, d or w (e.g. 90d, 12h, 4w)");
    let out_of_range =
        || format!("--since {text}: out of range: at most {MAX_SINCE_DAYS}d ({} years)", MAX_SINCE_DAYS / 365);
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    if number.is_empty() {
        return Err(bad());
    }
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(bad()),
    };
    // All digits: a parse failure is a number too large for any duration.
    let n: i64 = number.parse().map_err(|_| out_of_range())?;
    n.checked_mul(seconds)
        .filter(|total| *total <= MAX_SINCE_DAYS * 86_400)
        .and_then(Duration::try_seconds)
        .ok_or_else(out_of_range)
}

/// The text table: one line per run and benchmark, oldest first.
pub fn to_text(points: &[TrendPoint]) -> String {
    let mut out = String::new();
    let benchmark_width = points
        .iter()
        .map(|p| terminal(&p.benchmark_with_profile()).chars().count())
        .max()
        .unwrap_or(0)
        .max("BENCHMARK".len());
    let _ = writeln!(
        out,
        "{:<20} {:<8} {:<benchmark_width$} {:>9} {:>5} {:>5} {:>5} {:>5} {:>6} {:>6}  TARGETS",
        "STARTED (UTC)", "RUN", "BENCHMARK", "PASS RATE", "PASS", "FAIL", "ERROR", "N/A", "MANUAL", "WAIVED"
    );
    for p in points {
        let c = &p.controls;
        let _ = writeln!(
            out,
            "{:<20} {:<8} {:<benchmark_width$} {:>9} {:>5} {:>5} {:>5} {:>5} {:>6} {:>6}  {}",
            p.started_at.format("%Y-%m-%d %H:%M:%S"),
            short_id(&p.run_id),
            terminal(&p.benchmark_with_profile()),
            percent(p.pass_rate),
            c.pass,
            c.fail,
            c.error,
            c.not_applicable,
            c.manual,
            c.waived,
            shown(&p.targets)
        );
    }
    out
}

pub fn short_id(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// Geometry of the chart, in SVG user units.
const WIDTH: f64 = 880.0;
const HEIGHT: f64 = 320.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 44.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 44.0;
/// Line colours, one per series, told apart in print as well.
const PALETTE: [&str; 8] = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#9a6700", "#bf3989", "#1b7c83", "#57606a"];

/// What the template draws: every coordinate is computed here.
#[derive(Debug, Serialize)]
struct Chart {
    width: f64,
    height: f64,
    plot_left: f64,
    plot_right: f64,
    plot_top: f64,
    plot_bottom: f64,
    y_ticks: Vec<Tick>,
    x_ticks: Vec<Tick>,
    series: Vec<Series>,
}

#[derive(Debug, Serialize)]
struct Tick {
    at: f64,
    label: String,
}

/// One line: the runs of one benchmark (with one profile) on one set of targets.
#[derive(Debug, Serialize)]
struct Series {
    benchmark: String,
    targets: String,
    color: &'static str,
    /// `x,y x,y ...` for `<polyline points>`.
    points: String,
    dots: Vec<Dot>,
}

#[derive(Debug, Serialize)]
struct Dot {
    x: f64,
    y: f64,
    /// The tooltip (`<title>`): run, time, pass rate.
    label: String,
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn chart(points: &[TrendPoint]) -> Chart {
    let (plot_left, plot_right, plot_top, plot_bottom) = (LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM);
    let times: Vec<i64> = points.iter().map(|p| p.started_at.timestamp_millis()).collect();
    let first = times.iter().copied().min().unwrap_or(0);
    let last = times.iter().copied().max().unwrap_or(0);
    let x_of = |millis: i64| {
        if last == first {
            (plot_left + plot_right) / 2.0
        } else {
            plot_left + (millis - first) as f64 / (last - first) as f64 * (plot_right - plot_left)
        }
    };
    let y_of = |rate: f64| plot_bottom - rate * (plot_bottom - plot_top);
    let y_ticks = (0..=4)
        .map(|i| {
            let rate = f64::from(i) * 0.25;
            Tick { at: round1(y_of(rate)), label: format!("{}%", i * 25) }
        })
        .collect();
    let x_ticks = if points.is_empty() {
        Vec::new()
    } else if last == first {
        vec![Tick { at: round1(x_of(first)), label: label_time(first, 0) }]
    } else {
        (0..=4)
            .map(|i| {
                let millis = first + (last - first) * i / 4;
                Tick { at: round1(x_of(millis)), label: label_time(millis, last - first) }
            })
            .collect()
    };
    let mut series: Vec<Series> = Vec::new();
    for point in points {
        let targets = point.targets.join(", ");
        let benchmark = point.benchmark_with_profile();
        let index = match series.iter().position(|s| s.benchmark == benchmark && s.targets == targets) {
            Some(index) => index,
            None => {
                series.push(Series {
                    benchmark,
                    targets,
                    color: PALETTE[series.len() % PALETTE.len()],
                    points: String::new(),
                    dots: Vec::new(),
                });
                series.len() - 1
            }
        };
        // A run with nothing judged has no pass rate: no dot, a gap-free line.
        let Some(rate) = point.pass_rate else { continue };
        let (x, y) = (round1(x_of(point.started_at.timestamp_millis())), round1(y_of(rate)));
        let line = &mut series[index];
        if !line.points.is_empty() {
            line.points.push(' ');
        }
        let _ = write!(line.points, "{x},{y}");
        line.dots.push(Dot {
            x,
            y,
            label: format!(
                "{} · run {} · {} pass rate ({} pass, {} fail, {} error)",
                point.started_at.format("%Y-%m-%d %H:%M UTC"),
                short_id(&point.run_id),
                percent(point.pass_rate),
                point.controls.pass,
                point.controls.fail,
                point.controls.error
            ),
        });
    }
    Chart { width: WIDTH, height: HEIGHT, plot_left, plot_right, plot_top, plot_bottom, y_ticks, x_ticks, series }
}

/// A day, or a day and time when the chart spans less than two days.
fn label_time(millis: i64, span_millis: i64) -> String {
    let format = if span_millis < 2 * 86_400_000 { "%m-%d %H:%M" } else { "%Y-%m-%d" };
    DateTime::<Utc>::from_timestamp_millis(millis).map_or_else(String::new, |t| t.format(format).to_string())
}

/// What the page says about where its numbers come from.
#[derive(Debug, Serialize)]
pub struct TrendPage<'a> {
    /// The history, as shown to the user (PostgreSQL passwords hidden).
    pub history: String,
    pub benchmark: Option<&'a str>,
    pub since: Option<&'a str>,
    pub generated_at: DateTime<Utc>,
}

/// The self-contained HTML page: the chart and the table, newest run first.
pub fn to_html(points: &[TrendPoint], page: &TrendPage<'_>) -> Result<String, String> {
    let mut tera = tera::Tera::default();
    tera.add_raw_template(TREND_TEMPLATE, TREND_TEMPLATE_TEXT)
        .map_err(|err| format!("template {TREND_TEMPLATE}: {err}"))?;
    let mut context = tera::Context::new();
    context.insert("page", page);
    context.insert("chart", &chart(points));
    let rows: Vec<&TrendPoint> = points.iter().rev().collect();
    context.insert("rows", &rows);
    tera.render(TREND_TEMPLATE, &context).map_err(|err| {
        let mut message = format!("template {TREND_TEMPLATE}: {err}");
        let mut source = std::error::Error::source(&err);
        while let Some(inner) = source {
            message.push_str(&format!(": {inner}"));
            source = inner.source();
        }
        message
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::StatusCounts;

    fn point(run: &str, day: u32, benchmark: &str, pass: usize, fail: usize) -> TrendPoint {
        let controls = StatusCounts { total: pass + fail, pass, fail, ..StatusCounts::default() };
        TrendPoint {
            run_id: run.to_owned(),
            started_at: chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, day, 10, 0, 0).single().expect("time"),
            benchmark: benchmark.to_owned(),
            profile: None,
            targets: vec!["host".to_owned()],
            pass_rate: crate::history::store::pass_rate(&controls),
            controls,
        }
    }

    #[test]
    fn history_since_accepts_days_hours_weeks() {
        assert_eq!(parse_since("90d"), Ok(Duration::days(90)));
        assert_eq!(parse_since("12h"), Ok(Duration::hours(12)));
        assert_eq!(parse_since("4w"), Ok(Duration::weeks(4)));
        assert!(parse_since("90").is_err());
        assert!(parse_since("d").is_err());
        assert!(parse_since("3y").is_err());
        assert!(parse_since("99999999999999999w").is_err());
        let too_far = parse_since("99999999999999d").expect_err("out of range");
        assert!(too_far.contains("out of range") && too_far.contains("36500d"), "{too_far}");
        assert!(parse_since("36500d").is_ok() && parse_since("36501d").is_err());
    }

    #[test]
    fn history_trend_chart_has_one_line_per_benchmark_and_no_script() {
        let points = [
            point("aaaaaaaa-1", 1, "linux", 50, 50),
            point("bbbbbbbb-1", 1, "aws", 10, 30),
            point("cccccccc-1", 3, "linux", 75, 25),
            point("dddddddd-1", 5, "linux", 100, 0),
            point("eeeeeeee-1", 4, "aws", 20, 20),
        ];
        let page = TrendPage { history: "h.sqlite".into(), benchmark: None, since: None, generated_at: Utc::now() };
        let html = to_html(&points, &page).expect("renders");
        assert_eq!(html.matches("<polyline").count(), 2, "{html}");
        assert!(html.contains("<svg"), "{html}");
        assert!(!html.contains("<script"), "no JavaScript");
        assert!(!html.contains("src=\"http"), "no external assets");
        // The linux line: first run at the left edge at 50%, last at the right edge at 100%.
        assert!(html.contains(&format!("{LEFT},{}", round1(TOP + (HEIGHT - BOTTOM - TOP) / 2.0))), "{html}");
        assert!(html.contains(&format!("{},{TOP}", WIDTH - RIGHT)), "{html}");
        let text = to_text(&points);
        assert_eq!(text.lines().count(), 6, "{text}");
        assert!(text.lines().nth(4).expect("last").contains("100.0%"), "{text}");
    }
}
