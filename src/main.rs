//! The `posture` binary: parse the command line, run, report a fatal error
//! (`error:`, then what to do about it in `help:` lines).

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = posture::cli::Cli::parse();
    let is_audit = matches!(cli.command, posture::cli::Command::Audit(_));
    match posture::run(cli) {
        Ok((stdout, code)) => {
            let mut out = std::io::stdout().lock();
            // A closed pipe (`posture list checks | head`) is not an error.
            // Listings and explanations quote content and facts: no control
            // character of theirs reaches the terminal (JSON has none raw).
            let _ = out.write_all(posture::escape::terminal_lines(&stdout).as_bytes());
            ExitCode::from(code)
        }
        Err(fatal) => {
            // A fatal error may quote a file or a fact: escaped for the terminal.
            eprintln!("posture: error: {}", posture::escape::terminal(&fatal.to_string()));
            for help in fatal.help() {
                eprintln!("posture: help: {}", posture::escape::terminal(&help));
            }
            if is_audit {
                eprintln!("posture: no audit was completed");
            }
            ExitCode::from(2)
        }
    }
}
