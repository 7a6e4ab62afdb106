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

/// Each source of the SDK's default credential chain, in its order, with
/// what it held here: the text of a "no credentials" error.
pub fn sources_tried(profile: Option<&str>) -> String {
    let set = |name: &str| std::env::var_os(name).is_some_and(|value| !value.is_empty());
    let files = SharedFiles::locate();
    let profile = profile.map(str::to_owned).or_else(|| std::env::var("AWS_PROFILE").ok()).unwrap_or("default".into());
    let mut tried = Vec::new();
    tried.push(if set("AWS_ACCESS_KEY_ID") {
        "the environment (AWS_ACCESS_KEY_ID is set, but not with a usable secret key)".to_owned()
    } else {
        "the environment (AWS_ACCESS_KEY_ID is not set)".to_owned()
    });
    tried.push(if files.profiles().contains(&profile) {
        format!("the profile '{profile}' (defined, but it gave no credentials)")
    } else {
        format!(
            "the profile '{profile}' (not defined in {} or {})",
            files.config.display(),
            files.credentials.display()
        )
    });
    tried.push(if set("AWS_WEB_IDENTITY_TOKEN_FILE") {
        "web identity (AWS_WEB_IDENTITY_TOKEN_FILE is set)".to_owned()
    } else {
        "web identity (AWS_WEB_IDENTITY_TOKEN_FILE is not set)".to_owned()
    });
    tried.push(if set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") || set("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
        "the container credentials endpoint (set)".to_owned()
    } else {
        "the container credentials endpoint (not set)".to_owned()
    });
    tried.push(if std::env::var("AWS_EC2_METADATA_DISABLED").is_ok_and(|value| value.eq_ignore_ascii_case("true")) {
        "the EC2 instance metadata service (disabled by AWS_EC2_METADATA_DISABLED)".to_owned()
    } else {
        "the EC2 instance metadata service (no instance role answered: not an EC2 instance, or none attached)"
            .to_owned()
    });
    format!("no AWS credentials found; tried {}", tried.join(", "))
}

/// Whether the reason an AWS call failed is that no credentials could be
/// loaded (as the SDK words it, whichever source failed last).
pub fn is_credentials_failure(reason: &str) -> bool {
    reason.contains("loading credentials")
        || reason.contains("no providers in chain provided credentials")
        || reason.contains("no AWS credentials found")
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
        assert!(is_credentials_failure(
            "sts GetCallerIdentity in us-east-1: dispatch failure: other: an error occurred while loading \
             credentials: failed to load IMDS session token"
        ));
        assert!(!is_credentials_failure(
            "sts GetCallerIdentity in us-east-1: credentials rejected (InvalidClientTokenId)"
        ));
    }
}
