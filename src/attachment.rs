//! Rules for an attached image (dialects that take one): which types, how
//! large, and the data URL that carries it.

/// The image types a vision backend can be expected to read.
pub const ALLOWED_TYPES: &[&str] = &["image/jpeg", "image/png", "image/webp", "image/gif"];

/// Default size limit. The seed backend (Flask-SocketIO) accepts messages
/// up to 1,000,000 bytes by default; base64 grows data by a third, so a
/// larger image would be refused by the server itself.
pub const DEFAULT_MAX_BYTES: usize = 700 * 1024;

fn human(bytes: usize) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
    } else {
        format!("{} KB", bytes.div_ceil(1024))
    }
}

/// Checks a picked or pasted file before it is read.
pub fn check(mime: &str, size: usize, max_bytes: usize) -> Result<(), String> {
    if !ALLOWED_TYPES.contains(&mime) {
        let shown = if mime.is_empty() {
            crate::i18n::tr("unknown", "未知类型")
        } else {
            mime
        };
        return Err(trf!(
            "Only JPEG, PNG, WebP and GIF images can be attached (this file is {shown}).",
            "只能添加 JPEG、PNG、WebP 和 GIF 图片（此文件为 {shown}）。"
        ));
    }
    if size > max_bytes {
        return Err(trf!(
            "The image is {}; this backend accepts images up to {}.",
            "图片大小为 {}；此后端只接受不超过 {} 的图片。",
            human(size),
            human(max_bytes)
        ));
    }
    Ok(())
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `data:<mime>;base64,<data>`.
pub fn data_url(mime: &str, bytes: &[u8]) -> String {
    format!("data:{mime};base64,{}", base64(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected);
        }
        assert_eq!(base64(&[0xff, 0xfe, 0xfd]), "//79");
        assert_eq!(
            data_url("image/png", b"\x89PNG"),
            "data:image/png;base64,iVBORw=="
        );
    }

    #[test]
    fn only_images_within_the_limit() {
        assert_eq!(check("image/png", 10, 100), Ok(()));
        assert_eq!(check("image/webp", 100, 100), Ok(()));
        assert!(check("image/svg+xml", 10, 100)
            .unwrap_err()
            .contains("image/svg+xml"));
        assert!(check("", 10, 100).unwrap_err().contains("unknown"));
        let e = check("image/jpeg", 2 * 1024 * 1024, DEFAULT_MAX_BYTES).unwrap_err();
        assert!(e.contains("2.0 MB") && e.contains("700 KB"), "{e}");
    }
}
