//! What is installed beside the binary, generated from `cli.rs`'s clap
//! definitions so that it cannot drift from them: the shell completion
//! scripts (`posture completions`) and the man page (`posture manpage`).

use clap::CommandFactory;

use crate::cli::{Cli, CompletionShell};

/// The name the completions complete and the man page documents.
const BINARY: &str = "posture";

/// The completion script for `shell`.
pub fn completions(shell: CompletionShell) -> String {
    let generator = match shell {
        CompletionShell::Bash => clap_complete::Shell::Bash,
        CompletionShell::Zsh => clap_complete::Shell::Zsh,
        CompletionShell::Fish => clap_complete::Shell::Fish,
    };
    let mut script = Vec::new();
    clap_complete::generate(generator, &mut Cli::command(), BINARY, &mut script);
    String::from_utf8_lossy(&script).into_owned()
}

/// posture.1: the top-level page, then one subsection per command with its
/// synopsis, description and options. One page rather than clap_mangen's
/// page per command (posture-audit.1, ...): `man posture` then shows every
/// option, and there is one file to install.
pub fn manpage() -> String {
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    let page = clap_mangen::Man::new(command.clone());
    let mut roff = Vec::new();
    // Writing into memory cannot fail.
    let written: std::io::Result<()> = (|| {
        page.render_title(&mut roff)?;
        page.render_name_section(&mut roff)?;
        page.render_synopsis_section(&mut roff)?;
        page.render_description_section(&mut roff)?;
        page.render_options_section(&mut roff)?;
        roff.extend_from_slice(b".SH COMMANDS\n");
        for subcommand in command.get_subcommands().filter(|c| !c.is_hide_set()) {
            roff.extend_from_slice(format!(".SS \"{BINARY} {}\"\n", subcommand.get_name()).as_bytes());
            let mut section = Vec::new();
            let sub_page = clap_mangen::Man::new(subcommand.clone());
            sub_page.render_synopsis_section(&mut section)?;
            sub_page.render_description_section(&mut section)?;
            sub_page.render_options_section(&mut section)?;
            roff.extend_from_slice(&demote_sections(&String::from_utf8_lossy(&section)).into_bytes());
        }
        page.render_version_section(&mut roff)
    })();
    written.expect("rendering into memory cannot fail");
    once_preamble(&String::from_utf8_lossy(&roff))
}

/// The lines clap_mangen starts each rendered section with (they define the
/// `\*(Aq` apostrophe string): a page needs them once, at its top.
const PREAMBLE: [&str; 2] = [".ie \\n(.g .ds Aq \\(aq", ".el .ds Aq '"];

/// `roff` with the preamble lines kept at its top and dropped everywhere else.
fn once_preamble(roff: &str) -> String {
    let mut page: String = PREAMBLE.iter().map(|line| format!("{line}\n")).collect();
    for line in roff.lines().filter(|line| !PREAMBLE.contains(line)) {
        page.push_str(line);
        page.push('\n');
    }
    page
}

/// A command's own sections (`.SH SYNOPSIS`, `.SH OPTIONS`) as paragraphs of
/// its subsection: its headings would otherwise end the COMMANDS section.
fn demote_sections(roff: &str) -> String {
    roff.lines()
        .map(|line| if line.starts_with(".SH ") || line == ".SH" { ".PP" } else { line })
        .map(|line| format!("{line}\n"))
        .collect()
}
