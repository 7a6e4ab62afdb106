//! The `keygen` and `verify` commands: their output and exit codes (verify:
//! 0 verified, 1 a problem found, 2 not a readable pack).

use std::path::PathBuf;

use crate::cli::{KeygenArgs, VerifyArgs};
use crate::settings::SettingsError;
use crate::Fatal;

/// `posture keygen KEYFILE`: KEYFILE and KEYFILE.pub.
pub fn keygen(args: &KeygenArgs) -> Result<(String, u8), Fatal> {
    let public = public_key_path(&args.key);
    let key = super::keys::generate(&args.key, &public).map_err(Fatal::Pack)?;
    Ok((
        format!(
            "wrote the private key {} (keep it secret) and the public key {}\n{}\n",
            args.key.display(),
            public.display(),
            super::keys::key_id(&key)
        ),
        0,
    ))
}

fn public_key_path(private: &std::path::Path) -> PathBuf {
    let mut name = private.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

/// `posture verify PACK [--public-key FILE] [--allow-unpinned] [--max-pack-size SIZE] [--render-timeout SECONDS]`.
pub fn verify(args: &VerifyArgs) -> Result<(String, u8), Fatal> {
    if let Some(key) = &args.public_key {
        if let Some(problem) = crate::paths::file_problem(key, false) {
            return Err(SettingsError::MissingFile("public-key", key.display().to_string(), problem).into());
        }
    }
    let render_timeout = crate::settings::render_timeout(args.render_timeout)?;
    let options = super::verify::VerifyOptions {
        public_key: args.public_key.clone(),
        allow_unpinned: args.allow_unpinned,
        max_bytes: args.max_pack_size,
        render_timeout,
    };
    let verification = super::verify::verify(&args.pack, &options).map_err(Fatal::Pack)?;
    let mut out = String::new();
    for line in &verification.confirmed {
        out.push_str(&format!("ok: {line}\n"));
    }
    for line in &verification.notes {
        out.push_str(&format!("note: {line}\n"));
    }
    for line in &verification.problems {
        out.push_str(&format!("FAILED: {line}\n"));
    }
    if verification.is_verified() {
        out.push_str(&format!("{}: verified\n", args.pack.display()));
        Ok((out, 0))
    } else {
        out.push_str(&format!("{}: NOT verified ({} problem(s))\n", args.pack.display(), verification.problems.len()));
        Ok((out, 1))
    }
}
