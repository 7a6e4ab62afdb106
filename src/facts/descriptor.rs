//! What a fact kind is: the row each provider keeps per kind in its one
//! table (`host::commands::FACTS`, `aws::FACTS`): its key, its scope, what
//! it reads on the target (`How`: the commands and file access of a host
//! fact, the API calls of an AWS fact, and the collector that does it), and
//! whether it needs root. Which keys exist, how a declared key expands, what
//! `explain` shows and what a collector may do all come from these rows.
//! Also the one constant each provider module declares about itself
//! ([`ProviderDescriptor`]).
//! May import fact keys only.

use super::FactKey;

/// How many facts one kind gives on a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One fact per target: `host.sshd`, `aws.iam.users`.
    Global,
    /// One fact per audited region, keyed `<kind>:<region>`; a check
    /// declares the kind and reads every region (`aws.ec2.vpcs`).
    Regional,
    /// One fact per absolute path the check names: `host.file:/etc/passwd`.
    PerPath,
}

/// One fact kind of a provider; `How` is the provider's own description of
/// what it reads and the code that collects it.
#[derive(Debug)]
pub struct FactDescriptor<How: 'static> {
    pub kind: &'static str,
    pub scope: Scope,
    /// Whether the fact is complete only when collected as root.
    pub needs_root: bool,
    pub how: How,
}

impl<How> FactDescriptor<How> {
    /// Whether `key` is a key of this kind as a check may declare it or a
    /// bundle may hold it: no parameter for a global kind; none or a region
    /// name for a regional one; an absolute path for a per-path one.
    pub fn accepts(&self, key: &FactKey) -> bool {
        if key.kind() != self.kind {
            return false;
        }
        match (self.scope, key.param()) {
            (Scope::Global, None) | (Scope::Regional, None) => true,
            (Scope::Regional, Some(region)) => is_region_name(region),
            (Scope::PerPath, Some(path)) => path.starts_with('/'),
            (Scope::Global, Some(_)) | (Scope::PerPath, None) => false,
        }
    }
}

/// What a provider module declares about itself, in one constant
/// (`host::PROVIDER`, `aws::PROVIDER`): `Provider` answers every question
/// about a provider from it.
#[derive(Debug)]
pub struct ProviderDescriptor {
    /// The name benchmarks, check folders, bundles and reports use.
    pub name: &'static str,
    /// The prefix every fact key of the provider starts with.
    pub fact_prefix: &'static str,
    /// The benchmark audited on its targets when none is named.
    pub default_benchmark: &'static str,
    /// The `--target` value that adds one of its targets, for messages.
    pub example_target: &'static str,
    /// The fact that says which operating system a target runs, with the
    /// os-release(5) fields `id`, `version_id` and `pretty_name`: what a
    /// benchmark's `applies_to` is compared with. None: its targets have no
    /// operating system to compare.
    pub os_fact: Option<&'static str>,
    /// The scope of one of its keys that names a fact it collects, from its
    /// fact table.
    pub scope_of: fn(&FactKey) -> Option<Scope>,
}

/// The scope of `key` in `table`, when the key names a fact of the table.
pub fn scope_in<How>(table: &[FactDescriptor<How>], key: &FactKey) -> Option<Scope> {
    find(table, key).filter(|row| row.accepts(key)).map(|row| row.scope)
}

/// The row of `table` for `key`'s kind.
pub fn find<'t, How>(table: &'t [FactDescriptor<How>], key: &FactKey) -> Option<&'t FactDescriptor<How>> {
    table.iter().find(|row| row.kind == key.kind())
}

/// Whether `name` can be a region name (`eu-west-1`, `us-gov-east-1`).
pub fn is_region_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &[FactDescriptor<()>] = &[
        FactDescriptor { kind: "x.global", scope: Scope::Global, needs_root: false, how: () },
        FactDescriptor { kind: "x.regional", scope: Scope::Regional, needs_root: false, how: () },
        FactDescriptor { kind: "x.file", scope: Scope::PerPath, needs_root: false, how: () },
    ];

    fn accepted(key: &str) -> bool {
        let key = FactKey::new(key);
        find(TABLE, &key).is_some_and(|row| row.accepts(&key))
    }

    #[test]
    fn keys_are_accepted_by_their_kind_and_scope() {
        assert!(accepted("x.global"));
        assert!(!accepted("x.global:eu-west-1"));
        assert!(accepted("x.regional"));
        assert!(accepted("x.regional:eu-west-1"));
        assert!(!accepted("x.regional:EU West"));
        assert!(accepted("x.file:/etc/passwd"));
        assert!(!accepted("x.file:etc/passwd"));
        assert!(!accepted("x.file"));
        assert!(!accepted("x.other"));
    }
}
