//! `host.services`: systemd service, socket and timer units, whether they are
//! enabled and whether they are running.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::probe::{command_line, Collected, Probe, Unavailable};
use super::text;

pub(super) const UNIT_FILE_ARGS: &[&str] =
    &["list-unit-files", "--type=service,socket,timer", "--no-legend", "--no-pager"];
pub(super) const UNIT_ARGS: &[&str] =
    &["list-units", "--type=service,socket,timer", "--all", "--no-legend", "--no-pager"];

/// Exists only while systemd is the running init (sd_booted(3)).
const SYSTEMD_RUNNING_MARKER: &str = "/run/systemd/system";

/// What a check reads when a state cannot be known (no running systemd, or
/// a loaded unit without a unit file).
const UNKNOWN: &str = "unknown";

pub(super) fn collect(probe: &mut Probe<'_>) -> Collected {
    let unit_files = run_systemctl(probe, UNIT_FILE_ARGS)?;
    let systemd_running = probe.stat(SYSTEMD_RUNNING_MARKER)?.is_some();
    let active_states = if systemd_running { Some(parse_units(&run_systemctl(probe, UNIT_ARGS)?)) } else { None };
    Ok(services_value(&parse_unit_files(&unit_files), active_states.as_ref()))
}

fn run_systemctl(probe: &mut Probe<'_>, args: &[&str]) -> Result<String, Unavailable> {
    let output = probe.run("systemctl", args)?;
    if !output.succeeded() {
        return Err(Unavailable::command_failed(&command_line("systemctl", args), &output));
    }
    Ok(text::decode(&output.stdout))
}

/// Unit name to unit file state from `systemctl list-unit-files` lines
/// (`ssh.service enabled enabled`). Lines that do not name a unit are skipped.
pub(super) fn parse_unit_files(stdout: &str) -> BTreeMap<String, String> {
    stdout
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let (unit, state) = (words.next()?, words.next()?);
            is_unit_name(unit).then(|| (unit.to_string(), state.to_string()))
        })
        .collect()
}

/// Unit name to active state from `systemctl list-units --all` lines
/// (`ssh.service loaded active running OpenBSD Secure Shell server`); the
/// `●` systemctl puts before failed or missing units is skipped.
pub(super) fn parse_units(stdout: &str) -> BTreeMap<String, String> {
    stdout
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace().skip_while(|word| *word == "●" || *word == "*");
            let (unit, _load, active) = (words.next()?, words.next()?, words.next()?);
            is_unit_name(unit).then(|| (unit.to_string(), active.to_string()))
        })
        .collect()
}

fn is_unit_name(word: &str) -> bool {
    [".service", ".socket", ".timer"].iter().any(|suffix| word.len() > suffix.len() && word.ends_with(suffix))
}

/// The fact from unit file states and, when systemd runs, active states.
/// A unit file that is not loaded is inactive; a loaded unit without a unit
/// file has `enabled` "unknown".
pub(super) fn services_value(
    unit_files: &BTreeMap<String, String>,
    active_states: Option<&BTreeMap<String, String>>,
) -> Value {
    let mut units = BTreeMap::new();
    for (unit, enabled) in unit_files {
        let active = match active_states {
            Some(states) => states.get(unit).map_or("inactive", String::as_str),
            None => UNKNOWN,
        };
        units.insert(unit.clone(), json!({ "enabled": enabled, "active": active }));
    }
    for (unit, active) in active_states.into_iter().flatten() {
        units.entry(unit.clone()).or_insert_with(|| json!({ "enabled": UNKNOWN, "active": active }));
    }
    json!({ "systemd_running": active_states.is_some(), "units": units })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly
mod tests {
    use super::*;
    use crate::facts::host::fake::FakeTransport;

    const UNIT_FILES: &str = "apt-daily.service                      static   -\n\
                              ssh.service                            enabled  enabled\n\
                              cups.socket                            disabled enabled\n\
                              getty@.service                         enabled  enabled\n\
                              fstrim.timer                           masked   enabled\n\
                              \n\
                              not-a-unit-line\n";

    const UNITS: &str = "  ssh.service       loaded active   running OpenBSD Secure Shell server\n\
                         ● nfs.service       not-found inactive dead nfs.service\n\
                         ● broken.service    loaded failed   failed  Broken thing\n\
                         cups.socket         loaded inactive dead    CUPS Scheduler\n\
                         garbage\n";

    #[test]
    fn unit_files_and_states_are_merged() {
        let value = services_value(&parse_unit_files(UNIT_FILES), Some(&parse_units(UNITS)));
        assert_eq!(value["systemd_running"], true);
        let units = &value["units"];
        assert_eq!(units["ssh.service"], json!({ "enabled": "enabled", "active": "active" }));
        assert_eq!(units["cups.socket"], json!({ "enabled": "disabled", "active": "inactive" }));
        assert_eq!(units["apt-daily.service"], json!({ "enabled": "static", "active": "inactive" }));
        assert_eq!(units["broken.service"], json!({ "enabled": "unknown", "active": "failed" }));
        assert_eq!(units["nfs.service"], json!({ "enabled": "unknown", "active": "inactive" }));
        assert_eq!(units["fstrim.timer"]["enabled"], "masked");
        assert_eq!(units.as_object().map(|map| map.len()), Some(7));
    }

    #[test]
    fn without_systemd_every_unit_is_unknown() {
        let value = services_value(&parse_unit_files(UNIT_FILES), None);
        assert_eq!(value["systemd_running"], false);
        assert_eq!(value["units"]["ssh.service"], json!({ "enabled": "enabled", "active": "unknown" }));
    }

    #[test]
    fn systemd_running_is_detected_from_its_marker() {
        let transport = FakeTransport::new()
            .dir("/run/systemd/system")
            .command("systemctl", UNIT_FILE_ARGS, 0, UNIT_FILES, "")
            .command("systemctl", UNIT_ARGS, 0, UNITS, "");
        let value = collect(&mut Probe::new(&transport)).unwrap();
        assert_eq!(value["units"]["ssh.service"]["active"], "active");
    }

    #[test]
    fn missing_systemctl_is_unavailable() {
        let transport = FakeTransport::new();
        let reason = collect(&mut Probe::new(&transport)).unwrap_err().into_reason();
        assert_eq!(reason, "systemctl: command not found");
    }
}
