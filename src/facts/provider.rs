//! The providers posture collects facts from, as a type: for each, its name
//! (in benchmarks, checks' folders, bundles and reports), the prefix of its
//! fact keys, its default benchmark and the `--target` that audits it. Every
//! question "which provider is this?" is answered here, never by matching
//! strings elsewhere. May import fact keys only.

use std::collections::BTreeSet;

use super::FactKey;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Provider {
    /// Linux hosts: the local host and hosts over SSH (`host.*` facts).
    Linux,
    /// AWS accounts (`aws.*` facts).
    Aws,
}

impl Provider {
    pub const ALL: [Provider; 2] = [Provider::Linux, Provider::Aws];

    /// The name benchmarks, check folders, bundles and reports use.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Linux => "linux",
            Provider::Aws => "aws",
        }
    }

    pub fn from_name(name: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|provider| provider.name() == name)
    }

    /// The prefix every fact key of this provider starts with.
    pub fn fact_prefix(self) -> &'static str {
        match self {
            Provider::Linux => "host.",
            Provider::Aws => "aws.",
        }
    }

    /// The provider a fact key belongs to, by its prefix.
    pub fn of_fact(key: &FactKey) -> Option<Provider> {
        Provider::ALL.into_iter().find(|provider| key.as_str().starts_with(provider.fact_prefix()))
    }

    /// The keys of `keys` this provider collects.
    pub fn own_keys(self, keys: &BTreeSet<FactKey>) -> BTreeSet<FactKey> {
        keys.iter().filter(|key| Provider::of_fact(key) == Some(self)).cloned().collect()
    }

    /// The benchmark audited on this provider's targets when none is named.
    pub fn default_benchmark(self) -> &'static str {
        match self {
            Provider::Linux => "cis-debian-linux-12",
            Provider::Aws => "cis-aws-foundations-v3.0.0",
        }
    }

    /// The `--target` value that adds a target of this provider, for messages.
    pub fn example_target(self) -> &'static str {
        match self {
            Provider::Linux => "local",
            Provider::Aws => "aws",
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_prefixes_round_trip() {
        for provider in Provider::ALL {
            assert_eq!(Provider::from_name(provider.name()), Some(provider));
        }
        assert_eq!(Provider::from_name("gcp"), None);
        let key = |text: &str| FactKey::new(text);
        assert_eq!(Provider::of_fact(&key("host.sshd")), Some(Provider::Linux));
        assert_eq!(Provider::of_fact(&key("aws.iam.users")), Some(Provider::Aws));
    }
}
