//! `host.mounts`: the mounted file systems and their options.

use serde_json::{json, Value};

use super::probe::{Collected, Probe, Unavailable};

const MOUNTS_PATH: &str = "/proc/self/mounts";

pub(super) fn collect(probe: &mut Probe<'_>) -> Collected {
    match probe.read_text(MOUNTS_PATH)? {
        Some(text) => Ok(parse_mounts(&text)),
        None => Err(Unavailable::new(format!("{MOUNTS_PATH}: does not exist (is /proc mounted?)"))),
    }
}

/// One entry per line of `/proc/self/mounts` (fstab format: source, target,
/// type, options, dump, pass). Lines with fewer than four fields are skipped.
pub(super) fn parse_mounts(text: &str) -> Value {
    let mounts: Vec<Value> = text
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (source, target, fstype, options) = (fields.next()?, fields.next()?, fields.next()?, fields.next()?);
            let options: Vec<String> = options.split(',').filter(|o| !o.is_empty()).map(decode_octal_escapes).collect();
            Some(json!({
                "target": decode_octal_escapes(target),
                "source": decode_octal_escapes(source),
                "fstype": decode_octal_escapes(fstype),
                "options": options,
            }))
        })
        .collect();
    Value::Array(mounts)
}

/// The kernel writes space, tab, newline and backslash in mount fields as
/// `\040`, `\011`, `\012` and `\134`.
fn decode_octal_escapes(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escape = bytes
            .get(index + 1..index + 4)
            .filter(|digits| bytes[index] == b'\\' && digits.iter().all(|digit| (b'0'..=b'7').contains(digit)));
        match escape {
            Some(digits) => {
                let value = digits.iter().fold(0u32, |acc, digit| acc * 8 + u32::from(digit - b'0'));
                match u8::try_from(value) {
                    Ok(byte) => decoded.push(byte),
                    Err(_) => decoded.extend_from_slice(&bytes[index..index + 4]),
                }
                index += 4;
            }
            None => {
                decoded.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_are_parsed_with_escapes_decoded() {
        let text = "proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n\
                    tmpfs /tmp tmpfs rw,nosuid,nodev,noexec 0 0\n\
                    /dev/sdb1 /media/usb\\040stick vfat rw,relatime 0 0\n\
                    broken line\n\
                    \n";
        let value = parse_mounts(text);
        assert_eq!(
            value,
            json!([
                { "target": "/proc", "source": "proc", "fstype": "proc", "options": ["rw", "nosuid", "nodev", "noexec", "relatime"] },
                { "target": "/tmp", "source": "tmpfs", "fstype": "tmpfs", "options": ["rw", "nosuid", "nodev", "noexec"] },
                { "target": "/media/usb stick", "source": "/dev/sdb1", "fstype": "vfat", "options": ["rw", "relatime"] }
            ])
        );
    }

    #[test]
    fn escapes_cover_backslash_and_leave_odd_sequences() {
        assert_eq!(decode_octal_escapes(r"a\134b\011c"), "a\\b\tc");
        assert_eq!(decode_octal_escapes(r"trailing\04"), r"trailing\04");
        assert_eq!(decode_octal_escapes(r"\777"), r"\777");
        assert_eq!(decode_octal_escapes(r"x\9zz"), r"x\9zz");
    }
}
