//! The providers posture collects facts from, as a type. Each provider's
//! module declares about it, in one `PROVIDER` constant, its name (in
//! benchmarks, checks' folders, bundles and reports), the prefix of its fact
//! keys, its default benchmark, the `--target` that audits it and, from its
//! fact table, which keys exist and their scope; `Provider::descriptor` is
//! the one place a variant meets its module. Every question "which provider is this?" or "is this a fact?" is
//! answered here, never by matching strings elsewhere. May import fact keys,
//! descriptors and the providers' fact tables (`host::commands`, `aws`).

use std::collections::BTreeSet;

use super::descriptor::{ProviderDescriptor, Scope};
use super::{aws, host, FactKey};

/// Serialised as its name (bundles, packs); a name posture has no
/// provider for is refused where it is read, naming the known ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(into = "&'static str", try_from = "String")]
pub enum Provider {
    /// Linux hosts: the local host and hosts over SSH (`host.*` facts).
    Linux,
    /// AWS accounts (`aws.*` facts).
    Aws,
}

impl Provider {
    pub const ALL: [Provider; 2] = [Provider::Linux, Provider::Aws];

    /// What the provider's module declares about it: the one place a
    /// provider is mapped to its module.
    fn descriptor(self) -> &'static ProviderDescriptor {
        match self {
            Provider::Linux => &host::PROVIDER,
            Provider::Aws => &aws::PROVIDER,
        }
    }

    /// The name benchmarks, check folders, bundles and reports use.
    pub fn name(self) -> &'static str {
        self.descriptor().name
    }

    pub fn from_name(name: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|provider| provider.name() == name)
    }

    /// The prefix every fact key of this provider starts with.
    pub fn fact_prefix(self) -> &'static str {
        self.descriptor().fact_prefix
    }

    /// The provider a fact key belongs to, by its prefix.
    pub fn of_fact(key: &FactKey) -> Option<Provider> {
        Provider::ALL.into_iter().find(|provider| key.as_str().starts_with(provider.fact_prefix()))
    }

    /// The keys of `keys` this provider collects.
    pub fn own_keys(self, keys: &BTreeSet<FactKey>) -> BTreeSet<FactKey> {
        keys.iter().filter(|key| Provider::of_fact(key) == Some(self)).cloned().collect()
    }

    /// The scope of a fact key's kind, when the key names a fact this
    /// version collects (a regional kind with or without its region, a
    /// per-path kind with an absolute path).
    pub fn scope_of(key: &FactKey) -> Option<Scope> {
        (Provider::of_fact(key)?.descriptor().scope_of)(key)
    }

    /// Whether `key` names a fact this version collects.
    pub fn is_known_fact(key: &FactKey) -> bool {
        Provider::scope_of(key).is_some()
    }

    /// Whether a declared key is a regional kind, read region by region.
    pub fn is_regional_kind(key: &FactKey) -> bool {
        key.param().is_none() && Provider::scope_of(key) == Some(Scope::Regional)
    }

    /// The commands and file reads collecting `keys` makes on a host, as
    /// shown to a reader (`explain`, the report's check info).
    pub fn commands_of_facts<'k>(keys: impl IntoIterator<Item = &'k FactKey>) -> Vec<String> {
        host::commands::commands_for_facts(keys)
    }

    /// The AWS API calls collecting `keys` makes, as shown by `explain`.
    pub fn api_calls_of_facts<'k>(keys: impl IntoIterator<Item = &'k FactKey>) -> Vec<String> {
        aws::kinds::calls_for_facts(keys)
    }

    /// The benchmark audited on this provider's targets when none is named.
    pub fn default_benchmark(self) -> &'static str {
        self.descriptor().default_benchmark
    }

    /// The fact that says which operating system a target of this provider
    /// runs (os-release `id`, `version_id`, `pretty_name`), when its targets
    /// have one.
    pub fn os_fact(self) -> Option<FactKey> {
        self.descriptor().os_fact.map(FactKey::new)
    }

    /// The `--target` value that adds a target of this provider, for messages.
    pub fn example_target(self) -> &'static str {
        self.descriptor().example_target
    }
}

impl From<Provider> for &'static str {
    fn from(provider: Provider) -> Self {
        provider.name()
    }
}

impl TryFrom<String> for Provider {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        Provider::from_name(&name).ok_or_else(|| {
            let known: Vec<&str> = Provider::ALL.iter().map(|p| p.name()).collect();
            format!(
                "provider '{name}' is not one posture has checks for (known: {}): its target would not be judged",
                known.join(", ")
            )
        })
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

    #[test]
    fn an_os_fact_is_a_fact_of_its_provider() {
        for provider in Provider::ALL {
            if let Some(os) = provider.os_fact() {
                assert!(Provider::is_known_fact(&os) && Provider::of_fact(&os) == Some(provider), "{os}");
            }
        }
        assert_eq!(Provider::Linux.os_fact(), Some(FactKey::new("host.os")));
        assert_eq!(Provider::Aws.os_fact(), None, "an AWS account has no OS to compare");
    }
}
