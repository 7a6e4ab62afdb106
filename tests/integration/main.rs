//! The one integration-test binary: checks on fixtures, catalog validation,
//! the CLI end to end, report snapshots.

mod aws;
mod catalog;
mod checks;
mod cli;
mod docs_map;
mod history;
mod html;
mod no_hangs;
mod os_mismatch;
mod output_folder;
mod packs;
mod pci;
mod profiles;
mod reports;
mod script_limits;
mod secrets;
mod shell_integration;
mod small_fixes;
mod ssh;
mod support;
mod terminal;
mod verify_hostile;
mod waivers;
