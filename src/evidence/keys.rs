//! Ed25519 keys of evidence packs: `posture keygen` writes a PKCS#8 private
//! key and an SPKI public key as PEM (readable by OpenSSL), `--sign` signs
//! the manifest's bytes, `verify --public-key` checks them.

use std::path::Path;

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use super::PackError;

/// `ed25519:<hex>`: how a manifest names the key that signed it.
pub fn key_id(key: &VerifyingKey) -> String {
    format!("ed25519:{}", hex::encode(key.as_bytes()))
}

/// A new key pair written to `private_path` (mode 0600) and `public_path`;
/// existing files are never overwritten.
pub fn generate(private_path: &Path, public_path: &Path) -> Result<VerifyingKey, PackError> {
    for path in [private_path, public_path] {
        if path.exists() {
            return Err(PackError::Key(format!("{}: already exists; not overwriting a key", path.display())));
        }
    }
    let mut secret = [0u8; 32];
    getrandom::getrandom(&mut secret).map_err(|err| PackError::Key(format!("no randomness for a key: {err}")))?;
    let key = SigningKey::from_bytes(&secret);
    let private_pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|err| PackError::Key(err.to_string()))?;
    let public_pem =
        key.verifying_key().to_public_key_pem(LineEnding::LF).map_err(|e| PackError::Key(e.to_string()))?;
    write_private(private_path, private_pem.as_bytes())?;
    std::fs::write(public_path, public_pem.as_bytes()).map_err(|err| super::io_error(public_path, err))?;
    Ok(key.verifying_key())
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), PackError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|err| super::io_error(path, err))?;
    file.write_all(bytes).map_err(|err| super::io_error(path, err))
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), PackError> {
    std::fs::write(path, bytes).map_err(|err| super::io_error(path, err))
}

/// The private key of a PEM file written by [`generate`].
pub fn read_signing_key(path: &Path) -> Result<SigningKey, PackError> {
    let text = std::fs::read_to_string(path).map_err(|err| super::io_error(path, err))?;
    SigningKey::from_pkcs8_pem(&text).map_err(|err| {
        PackError::Key(format!(
            "{}: not an ed25519 private key in PKCS#8 PEM (posture keygen writes one): {err}",
            path.display()
        ))
    })
}

/// The public key of a PEM file written by [`generate`].
pub fn read_verifying_key(path: &Path) -> Result<VerifyingKey, PackError> {
    let text = std::fs::read_to_string(path).map_err(|err| super::io_error(path, err))?;
    VerifyingKey::from_public_key_pem(&text).map_err(|err| {
        PackError::Key(format!(
            "{}: not an ed25519 public key in PEM (posture keygen writes one): {err}",
            path.display()
        ))
    })
}

/// The 64-byte signature of `message`.
pub fn sign(key: &SigningKey, message: &[u8]) -> Vec<u8> {
    key.sign(message).to_bytes().to_vec()
}

/// Whether `signature` is `key`'s signature of `message`.
pub fn is_valid(key: &VerifyingKey, message: &[u8], signature: &[u8]) -> bool {
    Signature::from_slice(signature).is_ok_and(|signature| key.verify(message, &signature).is_ok())
}

/// The public key named by a manifest's `signed_by`.
pub fn parse_key_id(id: &str) -> Option<VerifyingKey> {
    let bytes: [u8; 32] = hex::decode(id.strip_prefix("ed25519:")?).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_sign_and_verify_and_are_never_overwritten() {
        let dir = tempfile::tempdir().expect("tmp");
        let (private, public) = (dir.path().join("k.pem"), dir.path().join("k.pub.pem"));
        let generated = generate(&private, &public).expect("keys");
        let signing = read_signing_key(&private).expect("private");
        let verifying = read_verifying_key(&public).expect("public");
        assert_eq!(generated, verifying);
        let signature = sign(&signing, b"manifest");
        assert!(is_valid(&verifying, b"manifest", &signature));
        assert!(!is_valid(&verifying, b"manifest!", &signature));
        assert!(!is_valid(&verifying, b"manifest", &signature[1..]));
        assert_eq!(parse_key_id(&key_id(&verifying)), Some(verifying));
        assert!(generate(&private, &dir.path().join("other.pub")).is_err(), "an existing key is kept");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&private).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert!(read_signing_key(&public).is_err(), "a public key is not a private key");
    }
}
