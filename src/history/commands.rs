//! The commands that read the history: `posture history` (runs, newest
//! first), `posture diff` (what changed between two runs) and `posture trend`
//! (pass rate and counts per run, as text and as an HTML chart).

use std::fmt::Write as _;
use std::path::Path;

use chrono::Utc;

use super::diff::{percent, shown, RunDiff};
use super::store::Store;
use super::trend::{self, TrendPage};
use super::{HistoryError, Location};
use crate::cli::{DiffArgs, HistoryArgs, HistoryLocationArgs, OutputFormat, TrendArgs};
use crate::settings::SettingsError;
use crate::Fatal;

/// The history a reading command uses: `--history`, `POSTURE_HISTORY`,
/// `history` of posture.toml (or `--config`), the default file.
pub fn location(args: &HistoryLocationArgs, config: Option<&Path>) -> Result<Location, Fatal> {
    let project = match crate::config::locate(config) {
        Some(path) => Some((crate::config::load(&path).map_err(Fatal::Config)?, path)),
        None => None,
    };
    let configured = project.as_ref().and_then(|(config, path)| config.history.as_deref().map(|h| (h, path.as_path())));
    Location::resolve(args.history.as_deref(), configured).map_err(|message| SettingsError::History(message).into())
}

/// Opens a history that must already exist: reading commands do not create one.
fn open_existing(location: &Location) -> Result<Store, Fatal> {
    if let Location::Sqlite(path) = location {
        if !path.exists() {
            return Err(Fatal::NoHistory(path.clone()));
        }
    }
    Ok(Store::open_to_read(location)?)
}

/// `posture history`: the newest runs, newest first.
pub fn history(args: &HistoryArgs) -> Result<(String, u8), Fatal> {
    if args.limit == 0 {
        return Err(Fatal::Argument("--limit 0: show at least one run (--limit 1 or more)".to_owned()));
    }
    let location = location(&args.location, args.config.as_deref())?;
    let mut store = open_existing(&location)?;
    let runs = store.runs(args.limit)?;
    if args.format == OutputFormat::Json {
        return json(&runs);
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<36}  {:<19}  {:>9}  {:>5}  {:>5}  {:>5}  {:>4}  BENCHMARKS ON TARGETS",
        "RUN", "STARTED (UTC)", "PASS RATE", "PASS", "FAIL", "ERROR", "EXIT"
    );
    for run in &runs {
        let _ = writeln!(
            out,
            "{:<36}  {:<19}  {:>9}  {:>5}  {:>5}  {:>5}  {:>4}  {} on {}",
            run.id,
            run.started_at.format("%Y-%m-%d %H:%M:%S"),
            percent(run.pass_rate),
            run.controls.pass,
            run.controls.fail,
            run.controls.error,
            run.exit_code,
            shown(&run.benchmarks_with_profiles()),
            shown(&run.targets)
        );
    }
    if runs.is_empty() {
        let _ = writeln!(out, "(no runs in {location})");
    }
    Ok((out, 0))
}

/// `posture diff [RUN_A] [RUN_B]`: RUN_A to RUN_B; RUN_A alone: RUN_A to the
/// newest run of the same benchmarks, targets and profiles; neither: the
/// last two runs of the newest run's benchmarks, targets and profiles.
pub fn diff(args: &DiffArgs) -> Result<(String, u8), Fatal> {
    let location = location(&args.location, args.config.as_deref())?;
    let mut store = open_existing(&location)?;
    let nothing =
        |message: String| Fatal::History(HistoryError::NothingToCompare { location: location.to_string(), message });
    let (from, to) = match (args.run_a.as_deref(), args.run_b.as_deref()) {
        (Some(a), Some(b)) => (store.find_run(a)?, store.find_run(b)?),
        (Some(a), None) => {
            let from = store.find_run(a)?;
            let newest = store.latest_of_scope(&from.scope())?.unwrap_or_else(|| from.clone());
            if newest.id == from.id {
                return Err(nothing(format!(
                    "run {} is the newest of {} on {}: name the run to compare it with (posture diff RUN_A RUN_B)",
                    from.id,
                    shown(&from.benchmarks_with_profiles()),
                    shown(&from.targets)
                )));
            }
            (from, newest)
        }
        (None, _) => {
            let Some(to) = store.runs(1)?.into_iter().next() else {
                return Err(nothing("the history holds no run yet".to_owned()));
            };
            let Some(from) = store.previous_run(&to.scope(), &to.started_at, &to.id)? else {
                return Err(nothing(format!(
                    "the history holds one run of {} on {}: nothing to compare it with yet",
                    shown(&to.benchmarks_with_profiles()),
                    shown(&to.targets)
                )));
            };
            (from, to)
        }
    };
    let before = store.snapshot(&from.id)?;
    let after = store.snapshot(&to.id)?;
    let result = RunDiff::new(from, &before, to, &after);
    match args.format {
        OutputFormat::Json => json(&result),
        OutputFormat::Text => Ok((result.to_text(), 0)),
    }
}

/// `posture trend`: pass rate and counts per run and benchmark, oldest
/// first; `--html FILE` also writes the chart page.
pub fn trend(args: &TrendArgs) -> Result<(String, u8), Fatal> {
    let since = args.since.as_deref().map(trend::parse_since).transpose().map_err(Fatal::Argument)?;
    let location = location(&args.location, args.config.as_deref())?;
    let mut store = open_existing(&location)?;
    let now = Utc::now();
    // parse_since bounds the duration, so moving back by it cannot overflow.
    let cutoff = since.and_then(|duration| now.checked_sub_signed(duration));
    let points = store.trend(cutoff.as_ref(), args.benchmark.as_deref())?;
    if let Some(path) = &args.html {
        let page = TrendPage {
            history: location.to_string(),
            benchmark: args.benchmark.as_deref(),
            since: args.since.as_deref(),
            generated_at: now,
        };
        let html = trend::to_html(&points, &page).map_err(Fatal::Output)?;
        crate::report::write_atomic(path, &html).map_err(|e| Fatal::Output(e.to_string()))?;
        eprintln!("posture: wrote {}", path.display());
    }
    match args.format {
        OutputFormat::Json => json(&points),
        OutputFormat::Text if points.is_empty() => Ok((format!("(no runs in {location} match)\n"), 0)),
        OutputFormat::Text => Ok((trend::to_text(&points), 0)),
    }
}

fn json(value: &impl serde::Serialize) -> Result<(String, u8), Fatal> {
    serde_json::to_string_pretty(value)
        .map(|text| (text + "\n", 0))
        .map_err(|e| Fatal::Output(format!("cannot serialise: {e}")))
}
