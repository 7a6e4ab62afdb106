//! Benchmark: `posture diff` and `posture trend` over a history of 1,000
//! stored runs (aim: under 200 ms each). The history is seeded through the
//! real append path with the sample host's report (310 controls), some
//! controls flipping between pass and fail from run to run; the commands
//! are timed as the user runs them (the binary, wall time, median of 10),
//! and the store's own work in-process beside it.
//!
//! Run with `cargo bench --bench history` (SQLite); set
//! `POSTURE_BENCH_POSTGRES_URL=$(scripts/postgres.sh 5058)` to measure
//! PostgreSQL as well. The numbers go in the README.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::Utc;
use posture::history::{Location, Store};
use posture::report::model::{Report, Status};

const RUNS: usize = 1_000;
const SAMPLES: usize = 10;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let work = root.join("target").join("bench").join("history");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("bench dir");
    let report = sample_report(&root, &work);
    let findings: usize =
        report.benchmarks.iter().flat_map(|b| &b.sections).flat_map(|s| &s.controls).map(|c| c.findings.len()).sum();
    println!("each run: {} controls, {findings} findings; {RUNS} runs", report.summary.controls.total);

    let sqlite = work.join("history.sqlite");
    measure("SQLite", &Location::Sqlite(sqlite.clone()), &report, &work);
    if let Ok(url) = std::env::var("POSTURE_BENCH_POSTGRES_URL") {
        let database = format!("posture_bench_{}", uuid::Uuid::new_v4().simple());
        let mut admin = postgres::Client::connect(&url, postgres::NoTls).expect("POSTURE_BENCH_POSTGRES_URL connects");
        admin.batch_execute(&format!("CREATE DATABASE {database}")).expect("create the bench database");
        let base = url.rsplit_once('/').map_or(url.as_str(), |(base, _)| base);
        measure("PostgreSQL", &Location::Postgres(format!("{base}/{database}")), &report, &work);
        let _ = admin.batch_execute(&format!("DROP DATABASE {database} WITH (FORCE)"));
    } else {
        println!("(PostgreSQL not measured: set POSTURE_BENCH_POSTGRES_URL, e.g. to $(scripts/postgres.sh 5058))");
    }
}

fn measure(label: &str, location: &Location, report: &Report, work: &Path) {
    println!("\n{label}: {location}");
    let started = Instant::now();
    let mut store = Store::open(location).expect("open the history");
    let first_time = Utc::now() - chrono::Duration::hours(RUNS as i64);
    let mut ids = Vec::new();
    for index in 0..RUNS {
        let mut run = report.clone();
        run.run.id = uuid::Uuid::new_v4().to_string();
        run.run.started_at = first_time + chrono::Duration::hours(index as i64);
        run.run.finished_at = run.run.started_at + chrono::Duration::seconds(1);
        flip_some_controls(&mut run, index);
        store.append(&run).expect("append");
        ids.push(run.run.id);
    }
    let seeding = started.elapsed();
    println!(
        "  seeding: {RUNS} appends in {:.1} s ({:.1} ms per run)",
        seeding.as_secs_f64(),
        seeding.as_secs_f64() * 1000.0 / RUNS as f64
    );

    // In-process: the store's queries and the comparison, without process start.
    let in_process = |f: &mut dyn FnMut()| median((0..SAMPLES).map(|_| time(&mut *f)).collect());
    let diff_latest = in_process(&mut || {
        let mut store = Store::open(location).expect("open");
        let latest = store.runs(1).expect("runs").remove(0);
        let previous = store.previous_run(&latest.scope(), &latest.started_at, &latest.id).expect("q").expect("one");
        let before = store.snapshot(&previous.id).expect("snapshot");
        let after = store.snapshot(&latest.id).expect("snapshot");
        let _ = posture::history::diff::compare(&before, &after);
    });
    let trend = in_process(&mut || {
        let mut store = Store::open(location).expect("open");
        assert_eq!(store.trend(None, None).expect("trend").len(), RUNS);
    });
    println!("  in-process: diff of the last two runs {}, trend of all runs {}", ms(diff_latest), ms(trend));

    let history = location.to_string();
    let (oldest, middle) = (&ids[0], &ids[RUNS / 2]);
    let commands: [(&str, Vec<&str>); 5] = [
        ("posture diff (the last two runs)", vec!["diff"]),
        ("posture diff OLDEST MIDDLE", vec!["diff", oldest, middle]),
        ("posture trend (1,000 runs, text)", vec!["trend"]),
        ("posture trend --since 90d --html", vec!["trend", "--since", "90d", "--html", "trend.html"]),
        ("posture history", vec!["history"]),
    ];
    for (name, args) in commands {
        let times = (0..SAMPLES).map(|_| time(&mut || run_posture(work, &history, &args))).collect();
        println!("  {name}: median {} (binary, wall time, {SAMPLES} runs)", ms(median(times)));
    }
}

/// Every 40th control (shifted by the run's index) flips pass <-> fail,
/// with its findings: consecutive runs differ by a handful of controls.
fn flip_some_controls(report: &mut Report, index: usize) {
    let flip = |status: &mut Status| {
        *status = match *status {
            Status::Pass => Status::Fail,
            Status::Fail => Status::Pass,
            other => other,
        }
    };
    let controls = report.benchmarks.iter_mut().flat_map(|b| b.sections.iter_mut()).flat_map(|s| s.controls.iter_mut());
    for (position, control) in controls.enumerate() {
        if (position + index).is_multiple_of(40) {
            flip(&mut control.status);
            control.targets.values_mut().for_each(flip);
            control.findings.iter_mut().for_each(|f| flip(&mut f.status));
        }
    }
}

fn run_posture(dir: &Path, history: &str, args: &[&str]) {
    let output = Command::new(env!("CARGO_BIN_EXE_posture"))
        .args(args)
        .arg("--history")
        .arg(history)
        .current_dir(dir)
        .output()
        .expect("posture runs");
    assert!(output.status.success(), "posture {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

fn sample_report(root: &Path, work: &Path) -> Report {
    let bundle = root.join("samples/misconfigured-host/facts.json");
    let output = Command::new(env!("CARGO_BIN_EXE_posture"))
        .args(["audit", "--quiet", "--no-history", "--fail-on", "none", "--format", "json", "--facts"])
        .arg(&bundle)
        .arg("--out")
        .arg(work.join("sample"))
        .output()
        .expect("posture runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = std::fs::read_to_string(work.join("sample/report.json")).expect("report");
    serde_json::from_str(&text).expect("a report")
}

fn time(f: &mut dyn FnMut()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}
