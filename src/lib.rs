//! posture: audits hosts (and, later, cloud accounts) against compliance
//! benchmarks and writes evidence reports. `main.rs` parses the command line
//! and calls [`run`]; everything else lives here.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod applicability;
pub mod atomic_write;
pub mod audit;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod escape;
pub mod evaluate;
pub mod evidence;
pub mod facts;
pub mod fatal;
pub mod finding;
pub mod history;
pub mod inspect;
pub mod judge;
pub mod located;
pub mod paths;
pub mod progress;
pub mod regular_file;
pub mod report;
pub mod results;
pub mod script;
pub mod settings;
pub mod shell_integration;
pub mod waivers;

use std::io::IsTerminal;

/// The heap allocator (mimalloc: scripts allocate many small values from
/// several threads at once), counting each thread's heap so that one script
/// evaluation is held to its own memory budget (see `script::Limits::max_memory`).
#[global_allocator]
static ALLOCATOR: script::heap::CountingAllocator = script::heap::CountingAllocator;

use cli::{Cli, Command};
pub use fatal::Fatal;

/// Runs a command; returns what to print on stdout and the exit code.
pub fn run(cli: Cli) -> Result<(String, u8), Fatal> {
    match cli.command {
        Command::Audit(args) => {
            let settings = settings::AuditSettings::resolve(*args, std::io::stderr().is_terminal())?;
            audit::run(&settings)
        }
        Command::List(args) => inspect::list(&args),
        Command::Explain(args) => inspect::explain(&args),
        Command::Validate(args) => inspect::validate(&args),
        Command::Keygen(args) => evidence::commands::keygen(&args),
        Command::Verify(args) => evidence::commands::verify(&args),
        Command::History(args) => history::commands::history(&args),
        Command::Diff(args) => history::commands::diff(&args),
        Command::Trend(args) => history::commands::trend(&args),
        Command::Completions(args) => Ok((shell_integration::completions(args.shell), 0)),
        Command::Manpage => Ok((shell_integration::manpage(), 0)),
    }
}
