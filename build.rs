//! Rebuild when the embedded content or templates change (include_dir does
//! not tell cargo about the files it embeds).

fn main() {
    println!("cargo:rerun-if-changed=benchmarks");
    println!("cargo:rerun-if-changed=templates");
}
