//! The one integration-test binary: checks on fixtures, catalog validation,
//! the CLI end to end, report snapshots.

mod aws;
mod catalog;
mod checks;
mod cli;
mod history;
mod output_folder;
mod packs;
mod pci;
mod reports;
mod ssh;
mod support;
mod waivers;
