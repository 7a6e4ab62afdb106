//! The command line as typed: clap definitions only, nothing resolved here
//! (see `settings.rs`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "posture", version, about = "Audit hosts against compliance benchmarks and write evidence reports")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Collect facts, evaluate the benchmark's checks and write the reports.
    Audit(Box<AuditArgs>),
    /// List benchmarks, controls or checks.
    List(ListArgs),
    /// Show a control or a check: what it judges, why, how to fix it.
    Explain(ExplainArgs),
    /// Load and compile all content; report every problem with its position.
    Validate(ContentArgs),
    /// Write an ed25519 key pair for signing evidence packs (`audit --sign`).
    Keygen(KeygenArgs),
    /// Check an evidence pack: file hashes, signature, and every verdict
    /// re-derived from the recorded facts and content.
    Verify(VerifyArgs),
    /// List the audits recorded in the history, newest first.
    History(HistoryArgs),
    /// What changed between two recorded runs: newly failing, fixed, newly
    /// erroring, added and removed controls and resources.
    Diff(DiffArgs),
    /// Pass rate and control counts per recorded run, as a table or an HTML
    /// page with a chart.
    Trend(TrendArgs),
    /// Print the shell completion script for bash, zsh or fish.
    Completions(CompletionsArgs),
    /// Print the man page (posture.1, roff) of every command and option.
    Manpage,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell the script is for.
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

/// The shells `posture completions` writes a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// The private key file to write; the public key goes beside it with `.pub` appended.
    #[arg(value_name = "KEYFILE", default_value = "posture-signing.pem")]
    pub key: PathBuf,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The pack: an audit's --out folder, or the archive written with --pack.
    #[arg(value_name = "PACK")]
    pub pack: PathBuf,
    /// Require the manifest to be signed by this public key (PEM): the pinned
    /// key, obtained from the signer by a channel you trust. Without it the
    /// pack's origin is not proven and verify fails, unless --allow-unpinned.
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
    /// Accept a pack whose origin is not proven (unsigned, or signed by a key
    /// not pinned with --public-key): integrity against the manifest only.
    #[arg(long)]
    pub allow_unpinned: bool,
    /// The most an archive may unpack to and the largest pack file read, in
    /// bytes or with a unit (KiB, MiB, GiB); default 1GiB.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_pack_size: Option<u64>,
    /// Wall-clock limit of re-rendering one report with the pack's
    /// templates, in seconds (default 300).
    #[arg(long, value_name = "SECONDS")]
    pub render_timeout: Option<u64>,
}

/// A size in bytes: a number, optionally with a unit (B, KiB, MiB, GiB, KB, MB, GB).
fn parse_size(raw: &str) -> Result<u64, String> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let number: u64 = number.parse().map_err(|_| format!("'{raw}': expected a number of bytes, e.g. 512MiB"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        other => return Err(format!("'{raw}': unknown unit '{other}' (B, KiB, MiB, GiB, KB, MB, GB)")),
    };
    match number.checked_mul(scale) {
        Some(0) | None => Err(format!("'{raw}': expected a size between 1 byte and 16 EiB")),
        Some(bytes) => Ok(bytes),
    }
}

#[derive(Debug, Args, Clone, Default)]
pub struct ContentArgs {
    /// Extra content directory (benchmarks/*.toml, checks/<provider>/...) added to
    /// or overriding the built-in content. Repeatable.
    #[arg(long, value_name = "DIR")]
    pub content: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub content: ContentArgs,
    /// Benchmark to audit against (repeatable; default: the built-in Linux benchmark).
    #[arg(long, value_name = "ID")]
    pub benchmark: Vec<String>,
    /// Only these controls: globs (`5.1.*`) or ids selecting a control and what is under it (`5.1`). Comma-separated or repeated.
    #[arg(long, value_name = "PATTERN", value_delimiter = ',')]
    pub controls: Vec<String>,
    /// Leave out these controls (same patterns as --controls).
    #[arg(long, value_name = "PATTERN", value_delimiter = ',')]
    pub skip: Vec<String>,
    /// Only the controls of this CIS level: 1, or 2 (Level 2 takes in Level 1).
    /// A benchmark without levels (PCI DSS) is taken whole, with a warning.
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub level: Option<LevelArg>,
    /// The host role whose CIS profiles select the controls: `server` or
    /// `workstation` for CIS Debian 12 (with --level and without it: the
    /// benchmark's default role, server; alone: both levels of the role).
    #[arg(long, value_name = "ROLE", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub host_role: Option<String>,
    /// Output directory for the reports.
    #[arg(long, value_name = "DIR", default_value = "posture-report")]
    pub out: PathBuf,
    /// Report formats to write (`posture list formats` says what each is;
    /// report.json is always written).
    #[arg(long, value_name = "FORMAT", value_delimiter = ',', default_value = DEFAULT_FORMATS.as_str(),
        value_parser = clap::builder::PossibleValuesParser::new(crate::report::format::FORMATS.iter().map(|f| f.name)))]
    pub format: Vec<String>,
    /// Exit 1 when a finding fails at or above this severity (`none`: never).
    #[arg(long, value_enum, default_value = "low", value_name = "SEVERITY")]
    pub fail_on: FailOnArg,
    /// Configuration file (default: ./posture.toml when it exists); its
    /// `[[targets]]` are audited when no --target is given.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to audit: `local` (this machine, the default), `aws` (the account
    /// of the standard AWS credential chain), `ssh://[user@]host[:port]` (a
    /// host over SSH), the name of a target or group of posture.toml's
    /// inventory, or `tag:TAG` (its targets with that tag). Repeatable.
    #[arg(long, value_name = "TARGET", value_delimiter = ',')]
    pub target: Vec<String>,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub ssh: SshArgs,
    /// Evaluate a recorded fact bundle instead of collecting from targets.
    #[arg(long, value_name = "FILE", conflicts_with = "target")]
    pub facts: Option<PathBuf>,
    /// Also write the collected facts as a bundle (re-evaluable with --facts).
    #[arg(long, value_name = "FILE")]
    pub save_facts: Option<PathBuf>,
    /// Directory of templates overriding the built-in ones (report.html, junit.xml, summary.md).
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Operation limit of one check evaluation.
    #[arg(long, value_name = "N")]
    pub max_operations: Option<u64>,
    /// Wall-clock limit of one check evaluation, in seconds.
    #[arg(long, value_name = "SECONDS")]
    pub script_timeout: Option<u64>,
    /// Wall-clock limit of rendering one report from a template, in seconds (default 300).
    #[arg(long, value_name = "SECONDS")]
    pub render_timeout: Option<u64>,
    /// Never draw a progress bar (plain log lines instead).
    #[arg(long)]
    pub no_progress: bool,
    /// Log how long each phase took (load, collect, evaluate, report).
    #[arg(long)]
    pub timings: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub history: HistoryLocationArgs,
    /// Do not record this audit in the history (and show no changes since the
    /// previous run). POSTURE_NO_HISTORY=1 does the same.
    #[arg(long, env = "POSTURE_NO_HISTORY", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_history: bool,
    /// Sign the evidence pack's manifest with this ed25519 private key
    /// (PKCS#8 PEM, as `posture keygen` writes).
    #[arg(long, value_name = "KEYFILE")]
    pub sign: Option<PathBuf>,
    /// Also write the evidence pack (the --out folder) as one .tar.gz archive.
    #[arg(long, value_name = "FILE.tar.gz")]
    pub pack: Option<PathBuf>,
    /// Waivers file (TOML `[[waivers]]`: control or check, resource glob,
    /// target, justification, approver, expires); default: `waivers` of posture.toml.
    #[arg(long, value_name = "FILE")]
    pub waivers: Option<PathBuf>,
    /// Judge a host whose OS is not the one the benchmark is written for (or
    /// cannot be told) instead of reporting its controls as error; the
    /// reports say so. posture.toml: `ignore_os_mismatch = true`.
    #[arg(long)]
    pub ignore_os_mismatch: bool,
}

/// How to reach an AWS account (`--target aws`).
#[derive(Debug, Args, Clone, Default)]
pub struct AwsArgs {
    /// AWS profile of ~/.aws/config and ~/.aws/credentials (default: AWS_PROFILE or `default`).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Role to assume for the audit (with the credentials of the chain or --profile).
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,
    /// External id required by the role's trust policy.
    #[arg(long, value_name = "ID", requires = "role_arn")]
    pub external_id: Option<String>,
    /// Regions to audit (default: every region enabled for the account).
    #[arg(long, value_name = "REGION", value_delimiter = ',')]
    pub regions: Vec<String>,
}

/// How to reach hosts over SSH (`--target ssh://...`, inventory targets).
#[derive(Debug, Args, Clone, Default)]
pub struct SshArgs {
    /// ssh configuration file used instead of ~/.ssh/config (`ssh -F`).
    #[arg(long, value_name = "FILE")]
    pub ssh_config: Option<PathBuf>,
    /// Private key for SSH targets that do not name their own (`ssh -i`).
    #[arg(long, value_name = "FILE")]
    pub identity_file: Option<PathBuf>,
    /// Record the host key of a host seen for the first time
    /// (StrictHostKeyChecking=accept-new). Without it an unknown host key is
    /// an error; a changed host key always is.
    #[arg(long)]
    pub accept_new_host_keys: bool,
    /// Run the host facts that need root (/etc/shadow, sudoers, `sshd -T`,
    /// `sysctl -a`, auditd.conf) through `sudo -n` on SSH targets.
    #[arg(long)]
    pub sudo: bool,
    /// How many targets are collected at once (default 16).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Give up on a host after this many seconds (connecting and collecting);
    /// its facts are then unavailable (default 300).
    #[arg(long, value_name = "SECONDS")]
    pub host_timeout: Option<u64>,
}

/// `--format`'s default, from the format registry.
static DEFAULT_FORMATS: std::sync::LazyLock<String> = std::sync::LazyLock::new(crate::report::format::default_names);

/// The CIS levels `--level` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LevelArg {
    #[value(name = "1")]
    One,
    #[value(name = "2")]
    Two,
}

impl LevelArg {
    pub fn number(self) -> u8 {
        match self {
            LevelArg::One => 1,
            LevelArg::Two => 2,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOnArg {
    None,
    Info,
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub content: ContentArgs,
    #[arg(value_enum)]
    pub what: ListWhat,
    /// For `controls`: the benchmark (default: every benchmark).
    #[arg(long, value_name = "ID")]
    pub benchmark: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListWhat {
    /// The report formats `--format` takes.
    Formats,
    Benchmarks,
    Controls,
    Checks,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub content: ContentArgs,
    /// A check id, a control id (`5.1.20`) or a qualified control id (`cis-debian-linux-12:5.1.20`).
    pub id: String,
}

/// Where the audit history is.
#[derive(Debug, Args, Clone, Default)]
pub struct HistoryLocationArgs {
    /// The audit history: a SQLite file, or a postgres:// URL for a history a
    /// team shares (default: `history` of posture.toml, else
    /// ~/.local/share/posture/history.sqlite).
    #[arg(long, value_name = "PATH|URL", env = "POSTURE_HISTORY")]
    pub history: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub location: HistoryLocationArgs,
    /// Configuration file whose `history` is used (default: ./posture.toml when it exists).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Show at most this many runs.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: usize,
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub location: HistoryLocationArgs,
    /// Configuration file whose `history` is used (default: ./posture.toml when it exists).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The earlier run: an id or the start of one (default: the run before
    /// RUN_B of the same benchmarks, targets and profiles).
    pub run_a: Option<String>,
    /// The later run (default: the newest run; with RUN_A alone, the newest
    /// run of RUN_A's benchmarks, targets and profiles).
    pub run_b: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct TrendArgs {
    #[command(flatten)]
    pub location: HistoryLocationArgs,
    /// Configuration file whose `history` is used (default: ./posture.toml when it exists).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Only this benchmark.
    #[arg(long, value_name = "ID")]
    pub benchmark: Option<String>,
    /// Only runs of the last DURATION: a number and s, m, h, d or w (90d, 12h, 4w).
    #[arg(long, value_name = "DURATION")]
    pub since: Option<String>,
    /// Also write an HTML page with a chart of the pass rate (self-contained, no script).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
}
