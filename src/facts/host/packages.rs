//! `host.packages`: installed packages and versions, from dpkg or else rpm.

use serde_json::{json, Map, Value};

use super::probe::{command_line, Collected, Probe, Unavailable};
use super::text;
use super::TransportError;

// The format strings keep `\t` and `\n` as written: dpkg-query and rpm expand
// them themselves, and the recorded command line then reads as documented.
pub(super) const DPKG_ARGS: &[&str] = &["-W", "-f", r"${Package}\t${db:Status-Abbrev}\t${Version}\n"];
pub(super) const RPM_ARGS: &[&str] = &["-qa", "--qf", r"%{NAME}\t%{VERSION}-%{RELEASE}\n"];

pub(super) fn collect(probe: &mut Probe<'_>) -> Collected {
    match probe.run("dpkg-query", DPKG_ARGS) {
        Ok(output) if output.succeeded() => {
            return Ok(packages_value("dpkg", parse_dpkg(&text::decode(&output.stdout))));
        }
        Ok(output) => return Err(Unavailable::command_failed(&command_line("dpkg-query", DPKG_ARGS), &output)),
        Err(TransportError::CommandNotFound { .. }) => {}
        Err(error) => return Err(error.into()),
    }
    match probe.run("rpm", RPM_ARGS) {
        Ok(output) if output.succeeded() => Ok(packages_value("rpm", parse_rpm(&text::decode(&output.stdout)))),
        Ok(output) => Err(Unavailable::command_failed(&command_line("rpm", RPM_ARGS), &output)),
        Err(TransportError::CommandNotFound { .. }) => {
            Err(Unavailable::new("no package manager found: neither dpkg-query nor rpm is installed"))
        }
        Err(error) => Err(error.into()),
    }
}

fn packages_value(manager: &str, installed: Map<String, Value>) -> Value {
    json!({ "manager": manager, "installed": installed })
}

/// Packages whose dpkg status is installed (`ii`, or `hi` when held).
/// Lines without three tab-separated fields are skipped.
pub(super) fn parse_dpkg(stdout: &str) -> Map<String, Value> {
    let mut installed = Map::new();
    for line in stdout.lines() {
        let mut fields = line.split('\t');
        let (Some(name), Some(status), Some(version)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        let status = status.trim();
        if name.is_empty() || !(status.starts_with("ii") || status.starts_with("hi")) {
            continue;
        }
        installed.insert(name.to_string(), Value::String(version.trim().to_string()));
    }
    sorted(installed)
}

/// `name<TAB>version-release` lines of `rpm -qa`.
pub(super) fn parse_rpm(stdout: &str) -> Map<String, Value> {
    let mut installed = Map::new();
    for line in stdout.lines() {
        let Some((name, version)) = line.split_once('\t') else { continue };
        if name.is_empty() {
            continue;
        }
        installed.insert(name.to_string(), Value::String(version.trim().to_string()));
    }
    sorted(installed)
}

fn sorted(map: Map<String, Value>) -> Map<String, Value> {
    let mut entries: Vec<(String, Value)> = map.into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.into_iter().collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly
mod tests {
    use super::*;
    use crate::facts::host::fake::FakeTransport;

    #[test]
    fn dpkg_keeps_installed_and_held_packages_only() {
        let stdout = "sudo\tii \t1.9.13p3-1+deb12u1\n\
                      openssh-server\thi \t1:9.2p1-2+deb12u2\n\
                      telnet\trc \t0.17+2.4-2\n\
                      nis\tun \t\n\
                      malformed line\n";
        let installed = parse_dpkg(stdout);
        assert_eq!(
            Value::Object(installed),
            json!({ "openssh-server": "1:9.2p1-2+deb12u2", "sudo": "1.9.13p3-1+deb12u1" })
        );
    }

    #[test]
    fn rpm_lines_are_name_and_version() {
        let installed = parse_rpm("openssh-server\t8.7p1-38.el9\nbash\t5.1.8-9.el9\nnonsense\n");
        assert_eq!(Value::Object(installed), json!({ "bash": "5.1.8-9.el9", "openssh-server": "8.7p1-38.el9" }));
    }

    #[test]
    fn rpm_is_used_where_there_is_no_dpkg() {
        let transport = FakeTransport::new().command("rpm", RPM_ARGS, 0, "bash\t5.1.8-9.el9\n", "");
        let value = collect(&mut Probe::new(&transport)).unwrap();
        assert_eq!(value, json!({ "manager": "rpm", "installed": { "bash": "5.1.8-9.el9" } }));
    }

    #[test]
    fn no_package_manager_is_unavailable() {
        let transport = FakeTransport::new();
        let reason = collect(&mut Probe::new(&transport)).unwrap_err().into_reason();
        assert!(reason.contains("no package manager"), "{reason}");
    }
}
