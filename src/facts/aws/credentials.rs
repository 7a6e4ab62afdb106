//! Where the AWS SDK looks for credentials, told in words for the error of
//! an account whose credentials could not be had: which profiles the shared
//! files define, and, in the order of the SDK's default chain, each source
//! and what it held here. Reads environment variables and the two shared
//! files only (never a secret's value). May import nothing of posture.

use std::path::PathBuf;

/// The shared configuration and credentials files, as the SDK finds them.
struct SharedFiles {
    config: PathBuf,
    credentials: PathBuf,
}

impl SharedFiles {
    fn locate() -> Self {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
        let from_env = |name: &str, default: &str| {
            std::env::var_os(name).filter(|value| !value.is_empty()).map_or_else(|| home.join(default), PathBuf::from)
        };
        Self {
            config: from_env("AWS_CONFIG_FILE", ".aws/config"),
            credentials: from_env("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials"),
        }
    }

    /// Every profile the two files define: `[default]` and `[profile NAME]`
    /// in the configuration file, `[NAME]` in the credentials file.
    fn profiles(&self) -> Vec<String> {
        let mut names = Vec::new();
        for (path, prefixed) in [(&self.config, true), (&self.credentials, false)] {
            let Ok(text) = std::fs::read_to_string(path) else { continue };
            for name in section_names(&text, prefixed) {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        names
    }
}

/// The profile names of one shared file's `[...]` section headers.
fn section_names(text: &str, config_file: bool) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.trim().strip_prefix('[')?.strip_suffix(']'))
        .filter_map(|header| {
            let header = header.trim();
            if !config_file || header == "default" {
                return Some(header.to_owned());
            }
            header
                .strip_prefix("profile")
                .filter(|rest| rest.starts_with(char::is_whitespace))
                .map(|rest| rest.trim().to_owned())
        })
        .filter(|name| !name.is_empty())
        .collect()
}

/// Why `profile` cannot be used, when no shared file defines it.
pub fn undefined_profile(profile: &str) -> Option<String> {
    let files = SharedFiles::locate();
    let known = files.profiles();
    if known.iter().any(|name| name == profile) {
        return None;
    }
    let defined = if known.is_empty() { "none".to_owned() } else { known.join(", ") };
    Some(format!(
        "profile '{profile}' is not defined in {} or {} (profiles there: {defined})",
        files.config.display(),
        files.credentials.display()
    ))
}

/// When no source of the SDK's default credential chain holds anything here
/// (no access key in the environment, the profile in use defined in neither
/// shared file, no web identity token, no container endpoint), each source
/// in the chain's order with what it held: the text of a "no credentials"
/// error. `None` when a source is configured: the SDK's own reason (an
/// expired SSO session, a bad key) is then the one to show.
pub fn nothing_configured(profile: Option<&str>) -> Option<String> {
    let set = |name: &str| std::env::var_os(name).is_some_and(|value| !value.is_empty());
    let files = SharedFiles::locate();
    let profile = profile.map(str::to_owned).or_else(|| std::env::var("AWS_PROFILE").ok()).unwrap_or("default".into());
    let configured = set("AWS_ACCESS_KEY_ID")
        || files.profiles().contains(&profile)
        || set("AWS_WEB_IDENTITY_TOKEN_FILE")
        || set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        || set("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if configured {
        return None;
    }
    let metadata = if std::env::var("AWS_EC2_METADATA_DISABLED").is_ok_and(|value| value.eq_ignore_ascii_case("true")) {
        "the EC2 instance metadata service (disabled by AWS_EC2_METADATA_DISABLED)"
    } else {
        "the EC2 instance metadata service (no instance role answered: not an EC2 instance, or none attached)"
    };
    Some(format!(
        "{NO_CREDENTIALS_FOUND}; tried the environment (AWS_ACCESS_KEY_ID is not set), the profile '{profile}' (not \
         defined in {} or {}), web identity (AWS_WEB_IDENTITY_TOKEN_FILE is not set), the container credentials \
         endpoint (not set), {metadata}",
        files.config.display(),
        files.credentials.display()
    ))
}

/// How both the collector's and this module's messages begin when no
/// credentials could be had.
pub(super) const NO_CREDENTIALS_FOUND: &str = "no AWS credentials found";

/// Whether the reason an AWS call failed is that no credentials could be
/// loaded: the collector's own wording of it (see `sdk::is_missing_credentials`),
/// or the SDK's when the chain's last source (often the instance metadata
/// service) failed rather than found nothing.
pub fn is_credentials_failure(reason: &str) -> bool {
    reason.contains(NO_CREDENTIALS_FOUND) || reason.contains("an error occurred while loading credentials")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_come_from_both_shared_files() {
        let config = "[default]\nregion = eu-west-1\n[profile audit]\nrole_arn = x\n[sso-session corp]\n";
        assert_eq!(section_names(config, true), ["default", "audit"]);
        assert_eq!(section_names("[ci]\naws_access_key_id = AKIA\n[ default ]\n", false), ["ci", "default"]);
        assert!(section_names("[profileaudit]\n", true).is_empty());
    }

    #[test]
    fn credential_failures_are_told_apart_from_other_failures() {
        assert!(super::super::sdk::NO_CREDENTIALS.starts_with(NO_CREDENTIALS_FOUND), "the collector's wording");
        assert!(is_credentials_failure(&format!("sts GetCallerIdentity: {}", super::super::sdk::NO_CREDENTIALS)));
        assert!(is_credentials_failure(
            "sts GetCallerIdentity in us-east-1: dispatch failure: other: an error occurred while loading \
             credentials: failed to load IMDS session token"
        ));
        assert!(!is_credentials_failure(
            "sts GetCallerIdentity in us-east-1: credentials rejected (InvalidClientTokenId)"
        ));
    }
}
