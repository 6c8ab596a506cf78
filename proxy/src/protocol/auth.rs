//! Password arithmetic for the authentication plugins Tern speaks.
//!
//! mysql_native_password stores `stage2 = SHA1(SHA1(password))` (as `*HEX` in
//! `mysql.user`). A client proves knowledge of the password with
//! `response = SHA1(password) XOR SHA1(nonce || stage2)`. Knowing stage2, the proxy
//! recovers `stage1 = SHA1(password)` from that response and checks
//! `SHA1(stage1) == stage2`. With stage1 it can then answer any other server's
//! nonce for the same user, which is how backend connections log in as the client's
//! own user without the proxy ever seeing the password.
//!
//! caching_sha2_password's fast path is the same construction over SHA-256:
//! `response = SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) || nonce)`; verifying it
//! needs `SHA256(SHA256(pw))`, which a server only holds in its in-memory cache,
//! filled by a full authentication (the password in clear over TLS). Tern does
//! the same: a full authentication leaves `SHA256(SHA256(pw))` and the stage1
//! sealed under a key derived from `SHA256(pw)`; a later fast-path response
//! yields `SHA256(pw)`, which unseals the stage1 for the backend login. The
//! cache holds nothing that logs in by itself.

use sha1::{Digest, Sha1};
use sha2::Sha256;

pub const NATIVE_PASSWORD: &str = "mysql_native_password";
pub const CACHING_SHA2_PASSWORD: &str = "caching_sha2_password";

/// Length of the nonce ("scramble") Tern puts in its greeting.
pub const NONCE_LEN: usize = 20;

/// `SHA1(SHA1(password))`, the value behind a `*HEX` native password hash.
pub type NativeStage2 = [u8; 20];
/// `SHA1(password)`: what a backend login needs.
pub type NativeStage1 = [u8; 20];

/// Parses `*94BDCEBE19083CE2A1F959FD02F964C7AF4CFC29` into stage2 bytes.
pub fn parse_native_hash(text: &str) -> Option<NativeStage2> {
    let hex = text.strip_prefix('*')?;
    if hex.len() != 40 {
        return None;
    }
    let mut out = [0u8; 20];
    for (i, chunk) in hex.as_bytes().chunks(2).enumerate() {
        let s = std::str::from_utf8(chunk).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

fn sha1_concat(a: &[u8], b: &[u8]) -> [u8; 20] {
    let mut h = Sha1::new();
    h.update(a);
    h.update(b);
    h.finalize().into()
}

fn xor20(a: &[u8; 20], b: &[u8; 20]) -> [u8; 20] {
    let mut out = [0u8; 20];
    for i in 0..20 {
        out[i] = a[i] ^ b[i];
    }
    out
}

/// Checks a native-password response against stage2 and, when it matches,
/// returns stage1 for backend logins.
pub fn verify_native(nonce: &[u8], response: &[u8], stage2: &NativeStage2) -> Option<NativeStage1> {
    let response: &[u8; 20] = response.try_into().ok()?;
    let stage1 = xor20(response, &sha1_concat(nonce, stage2));
    let check: [u8; 20] = Sha1::digest(stage1).into();
    // Not constant-time: the compared value is a hash of attacker-chosen input, so
    // timing reveals nothing about the stored secret.
    (check == *stage2).then_some(stage1)
}

/// The response to a server's `nonce` for a user whose stage1 we recovered.
pub fn native_response(nonce: &[u8], stage1: &NativeStage1) -> [u8; 20] {
    let stage2: [u8; 20] = Sha1::digest(stage1).into();
    xor20(stage1, &sha1_concat(nonce, &stage2))
}

/// `SHA256(SHA256(password))`, what verifying a caching_sha2_password fast-path
/// response requires.
pub type Sha2Digest2 = [u8; 32];

/// Verifies a caching_sha2_password fast-path response; returns `SHA256(password)`.
pub fn verify_sha2_fast(nonce: &[u8], response: &[u8], digest2: &Sha2Digest2) -> Option<[u8; 32]> {
    let response: &[u8; 32] = response.try_into().ok()?;
    let mut h = Sha256::new();
    h.update(digest2);
    h.update(nonce);
    let mask: [u8; 32] = h.finalize().into();
    let mut stage1 = [0u8; 32];
    for i in 0..32 {
        stage1[i] = response[i] ^ mask[i];
    }
    let check: [u8; 32] = Sha256::digest(stage1).into();
    (check == *digest2).then_some(stage1)
}

/// `SHA1(password)` of a password received in clear.
pub fn stage1_of(password: &[u8]) -> NativeStage1 {
    Sha1::digest(password).into()
}

/// Does `stage1` belong to the account with this stage2?
pub fn stage1_matches(stage1: &NativeStage1, stage2: &NativeStage2) -> bool {
    let check: [u8; 20] = Sha1::digest(stage1).into();
    check == *stage2
}

/// `(SHA256(pw), SHA256(SHA256(pw)))` of a password received in clear.
pub fn sha2_digests(password: &[u8]) -> ([u8; 32], Sha2Digest2) {
    let d1: [u8; 32] = Sha256::digest(password).into();
    (d1, Sha256::digest(d1).into())
}

/// Seals (or unseals: XOR is its own inverse) a stage1 under `SHA256(pw)`.
pub fn seal_stage1(stage1: &NativeStage1, sha256_password: &[u8; 32]) -> NativeStage1 {
    let mut h = Sha256::new();
    h.update(b"tern stage1 seal");
    h.update(sha256_password);
    let key: [u8; 32] = h.finalize().into();
    let mut out = [0u8; 20];
    for i in 0..20 {
        out[i] = stage1[i] ^ key[i];
    }
    out
}

/// A fresh nonce. MySQL nonces are printable and never contain NUL, which some
/// clients treat as a terminator.
pub fn new_nonce() -> [u8; NONCE_LEN] {
    use rand::Rng;
    let mut rng = rand::rng();
    let mut out = [0u8; NONCE_LEN];
    for b in &mut out {
        *b = rng.random_range(0x21u8..0x7f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage2_of(password: &str) -> NativeStage2 {
        let s1: [u8; 20] = Sha1::digest(password.as_bytes()).into();
        Sha1::digest(s1).into()
    }

    #[test]
    fn parses_hash_of_known_password() {
        // PASSWORD('password') as printed by the server.
        let h = parse_native_hash("*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19").expect("hash");
        assert_eq!(h, stage2_of("password"));
        assert!(parse_native_hash("2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19").is_none());
        assert!(parse_native_hash("*XYZ").is_none());
    }

    #[test]
    fn recovers_stage1_and_answers_another_nonce() {
        let nonce_a = new_nonce();
        let nonce_b = new_nonce();
        let client =
            mysql_common::scramble::scramble_native(&nonce_a, b"s3cret").expect("scramble");
        let stage1 = verify_native(&nonce_a, &client, &stage2_of("s3cret")).expect("verifies");
        let expected =
            mysql_common::scramble::scramble_native(&nonce_b, b"s3cret").expect("scramble");
        assert_eq!(native_response(&nonce_b, &stage1), expected);
    }

    #[test]
    fn wrong_password_is_rejected() {
        let nonce = new_nonce();
        let client = mysql_common::scramble::scramble_native(&nonce, b"wrong").expect("scramble");
        assert!(verify_native(&nonce, &client, &stage2_of("right")).is_none());
        assert!(verify_native(&nonce, b"short", &stage2_of("right")).is_none());
    }

    #[test]
    fn sha2_fast_path_verifies() {
        let nonce = new_nonce();
        let client = mysql_common::scramble::scramble_sha256(&nonce, b"pw").expect("scramble");
        let d1: [u8; 32] = Sha256::digest(b"pw").into();
        let d2: [u8; 32] = Sha256::digest(d1).into();
        assert_eq!(verify_sha2_fast(&nonce, &client, &d2), Some(d1));
        let other: [u8; 32] = Sha256::digest(b"other").into();
        assert!(verify_sha2_fast(&nonce, &client, &other).is_none());
    }

    #[test]
    fn sealed_stage1_opens_only_with_the_password() {
        let stage1 = stage1_of(b"pw");
        let (d1, d2) = sha2_digests(b"pw");
        let sealed = seal_stage1(&stage1, &d1);
        assert_ne!(sealed, stage1);
        let nonce = new_nonce();
        let client = mysql_common::scramble::scramble_sha256(&nonce, b"pw").expect("scramble");
        let recovered = verify_sha2_fast(&nonce, &client, &d2).expect("fast path");
        assert_eq!(seal_stage1(&sealed, &recovered), stage1);
        assert!(stage1_matches(&stage1, &stage2_of("pw")));
        let (other, _) = sha2_digests(b"other");
        assert_ne!(seal_stage1(&sealed, &other), stage1);
    }

    #[test]
    fn nonce_has_no_nul() {
        for _ in 0..100 {
            assert!(!new_nonce().contains(&0));
        }
    }
}
