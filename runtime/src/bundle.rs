//! The `.aarmb` bundle: a header, then the [`Program`] encoded with bincode 2. Loading checks
//! everything before anything runs: magic, format version, exact length, SHA-256, signature (when
//! present or required), payload decoding, and the bytecode verifier ([`crate::verify`]).
//!
//! # Byte layout (format version 4)
//!
//! All integers are little-endian. `[signed]` fields are present only when the flag is 1.
//!
//! | size | field |
//! |---|---|
//! | 8 | magic `AARMB\0\r\n` (the `\r\n` catches text-mode transfers) |
//! | 2 | format version, `u16` (this runtime reads [`FORMAT_VERSION`] only) |
//! | 2 | `n`: byte length of the compiler version, `u16` |
//! | n | compiler version, UTF-8 (equal to the payload's `compiler_version`) |
//! | 1 | signature flag: 0 unsigned, 1 signed |
//! | 32 | `[signed]` Ed25519 public key of the signer (its key id is derived from it) |
//! | 8 | `m`: byte length of the payload, `u64` |
//! | 32 | SHA-256 digest (see below) |
//! | 64 | `[signed]` Ed25519 signature |
//! | m | payload: the [`Program`], `bincode::serde` with `bincode::config::standard()` |
//!
//! The file ends exactly after the payload: a missing byte is [`BundleError::Truncated`], an extra
//! one [`BundleError::TrailingBytes`].
//!
//! The digest is SHA-256 over every byte of the file except the digest and signature fields: the
//! header from the magic through the payload length, then the payload. Any changed byte elsewhere
//! is therefore a [`BundleError::HashMismatch`] (or a structural error first), and any changed byte
//! in the digest too. The signature is Ed25519 over [`SIGNATURE_CONTEXT`] followed by the 32-byte
//! digest (the context keeps a bundle signature from being valid for anything else the same key
//! signs), so a changed signature byte is a [`BundleError::SignatureInvalid`]. Because the public
//! key is in the file, a signature is checked even when the host configures no trusted keys; with
//! trusted keys, the signer must also be one of them.
//!
//! A key id is the first 8 bytes of SHA-256 of the 32-byte public key, as 16 hex digits.

use crate::program::Program;
use crate::verify::VerifyError;
/// The public key type this module's functions take and give (a trusted key, a signer's key), so
/// that a caller can name it without depending on `ed25519-dalek` itself.
pub use ed25519_dalek::VerifyingKey;
use ed25519_dalek::{Signature, Signer, SigningKey};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The format version this runtime writes and reads.
/// 4: `override` declarations, `valid` on rules and step-ups, `action_hash_ignores`, `@redact`
/// marks, and `Decimal` constants as `i128` units of 10^-18 (they were `i64` ten-thousandths).
pub const FORMAT_VERSION: u16 = 4;

/// The first bytes of every bundle.
pub const MAGIC: [u8; 8] = *b"AARMB\0\r\n";

/// What the signature signs, before the digest.
pub const SIGNATURE_CONTEXT: &[u8] = b"aarm bundle signature v1\0";

/// Most bytes bincode may allocate while decoding a payload (a hostile length prefix is refused
/// instead of allocated).
pub(crate) const DECODE_LIMIT: usize = 256 * 1024 * 1024;

/// Deepest nesting of values in a payload (constants, types and outcomes nest). Deeper payloads
/// are refused before they can exhaust the decoder's (or a later recursive walk's) stack.
pub(crate) const MAX_PAYLOAD_DEPTH: usize = 300;

const FLAG_UNSIGNED: u8 = 0;
const FLAG_SIGNED: u8 = 1;

/// What the header says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleInfo {
    /// The bundle format version the header declares.
    pub format_version: u16,
    /// The version of the `aarm` that built it.
    pub compiler_version: String,
    /// The digest recorded in the header (checked against the content by [`decode`], not by
    /// [`read_info`]).
    pub sha256: [u8; 32],
    /// The signer's key id (16 hex digits), when signed.
    pub key_id: Option<String>,
    /// Whether the bundle carries a signature.
    pub signed: bool,
}

impl BundleInfo {
    /// `sha256:` and the digest in 64 lowercase hex digits (the decision JSON's `bundle_hash`).
    ///
    /// Written into one buffer by table lookups: `format!` around `hex::encode`, which pushes
    /// every digit as a `char` through an iterator, took 15 000 instructions a hash under the
    /// fuzzers' comparison tracing (0.6 % of `differential`, which names every engine it builds).
    pub fn hash_string(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        const PREFIX: &[u8; 7] = b"sha256:";
        let mut text = [0u8; 7 + 64];
        let (prefix, digits) = text.split_at_mut(PREFIX.len());
        prefix.copy_from_slice(PREFIX);
        for (pair, byte) in digits.chunks_exact_mut(2).zip(self.sha256) {
            // A nibble is below 16: the lookups cannot miss.
            let high = DIGITS.get(usize::from(byte >> 4)).copied().unwrap_or(b'0');
            let low = DIGITS.get(usize::from(byte & 0x0f)).copied().unwrap_or(b'0');
            pair.copy_from_slice(&[high, low]);
        }
        // Every byte written is ASCII.
        std::str::from_utf8(&text).unwrap_or_default().to_string()
    }
}

/// Why a bundle was refused (or could not be written).
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The bytes are not a bundle at all.
    #[error("not an AARM bundle (the file does not start with the `.aarmb` magic bytes)")]
    BadMagic,
    /// The bundle was written in a format this runtime does not read.
    #[error(
        "bundle format version {found} is not supported (this runtime reads version {supported}); \
         rebuild the bundle with a matching `aarm build`"
    )]
    UnsupportedVersion {
        /// The version in the header.
        found: u16,
        /// The version this runtime reads.
        supported: u16,
    },
    /// The file is shorter than its header says.
    #[error("the bundle is truncated: {needed} bytes expected, the file has {found}")]
    Truncated {
        /// The bytes the header promises.
        needed: u64,
        /// The bytes the file has.
        found: usize,
    },
    /// The file has bytes after its payload: it is not exactly what was built.
    #[error("the bundle has {extra} unexpected bytes after its payload")]
    TrailingBytes {
        /// How many bytes follow the payload.
        extra: u64,
    },
    /// The header cannot be read.
    #[error("the bundle header is malformed: {0}")]
    BadHeader(String),
    /// The content does not hash to the digest in the header: corrupted or modified.
    #[error(
        "the bundle's content does not match its SHA-256 (header says sha256:{expected}, content is \
         sha256:{actual}): the file is corrupted or was modified"
    )]
    HashMismatch {
        /// The digest in the header, in hex.
        expected: String,
        /// The digest of the content, in hex.
        actual: String,
    },
    /// The host requires a signed bundle and this one is not signed.
    #[error("the bundle is not signed, and this host requires a signed bundle (build it with `--sign-key`)")]
    SignatureMissing,
    /// The signature does not verify under the key it names.
    #[error("the bundle's signature (key id {key_id}) is invalid: the file was modified or signed incorrectly")]
    SignatureInvalid {
        /// The key id the signature names.
        key_id: String,
    },
    /// The bundle is signed by a key the host does not trust.
    #[error("the bundle is signed by key id {key_id}, which is not among this host's trusted keys")]
    UnknownKey {
        /// The key id the signature names.
        key_id: String,
    },
    /// The payload (hash and signature good) does not decode into a program.
    #[error("the bundle's payload cannot be decoded: {0}")]
    Decode(String),
    /// The header and the payload disagree on the compiler version.
    #[error("the bundle's compiler version is `{header}` in its header but `{payload}` in its payload")]
    CompilerVersionMismatch {
        /// The version in the header.
        header: String,
        /// The version in the payload.
        payload: String,
    },
    /// The program decoded but the bytecode verifier refused it.
    #[error("the bundle's bytecode is invalid: {0}")]
    Verify(#[from] VerifyError),
    /// The program could not be encoded (when writing a bundle).
    #[error("the bundle cannot be written: {0}")]
    Encode(String),
    /// A key file could not be read.
    #[error("invalid key file: {0}")]
    KeyFile(String),
}

/// The key id of a public key: the first 8 bytes of its SHA-256, as 16 hex digits.
pub fn key_id(key: &VerifyingKey) -> String {
    key_id_of_bytes(key.as_bytes())
}

fn key_id_of_bytes(public_key: &[u8; 32]) -> String {
    hex::encode(Sha256::digest(public_key).get(..8).unwrap_or_default())
}

fn bincode_config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<DECODE_LIMIT>()
}

/// Encodes a program as a bundle, signed when a key is given.
pub fn encode(program: &Program, signing_key: Option<&SigningKey>) -> Result<Vec<u8>, BundleError> {
    let payload = bincode::serde::encode_to_vec(program, bincode::config::standard())
        .map_err(|e| BundleError::Encode(e.to_string()))?;
    let version = program.compiler_version.as_bytes();
    let version_len = u16::try_from(version.len()).map_err(|_| {
        BundleError::Encode(format!("the compiler version is {} bytes long (at most {})", version.len(), u16::MAX))
    })?;
    let payload_len =
        u64::try_from(payload.len()).map_err(|_| BundleError::Encode("the payload is too large".to_string()))?;

    let mut out = Vec::with_capacity(payload.len() + version.len() + 160);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&version_len.to_le_bytes());
    out.extend_from_slice(version);
    match signing_key {
        Some(key) => {
            out.push(FLAG_SIGNED);
            out.extend_from_slice(key.verifying_key().as_bytes());
        }
        None => out.push(FLAG_UNSIGNED),
    }
    out.extend_from_slice(&payload_len.to_le_bytes());

    let mut hasher = Sha256::new();
    hasher.update(&out);
    hasher.update(&payload);
    let digest: [u8; 32] = hasher.finalize().into();
    out.extend_from_slice(&digest);
    if let Some(key) = signing_key {
        let signature = key.sign(&signed_message(&digest));
        out.extend_from_slice(&signature.to_bytes());
    }
    out.extend_from_slice(&payload);
    Ok(out)
}

fn signed_message(digest: &[u8; 32]) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNATURE_CONTEXT.len() + digest.len());
    m.extend_from_slice(SIGNATURE_CONTEXT);
    m.extend_from_slice(digest);
    m
}

/// The parsed header, with where its parts are.
struct Header {
    info: BundleInfo,
    public_key: Option<[u8; 32]>,
    signature: Option<[u8; 64]>,
    /// Bytes from the magic through the payload length (hashed).
    hashed_header_len: usize,
    /// Where the payload starts.
    payload_start: usize,
    payload_len: u64,
}

/// Reads fields off the front of the file, reporting truncation.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], BundleError> {
        let end =
            self.pos.checked_add(n).ok_or(BundleError::Truncated { needed: u64::MAX, found: self.bytes.len() })?;
        let taken = self
            .bytes
            .get(self.pos..end)
            .ok_or(BundleError::Truncated { needed: end as u64, found: self.bytes.len() })?;
        self.pos = end;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], BundleError> {
        let taken = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(taken);
        Ok(a)
    }
}

fn parse_header(bytes: &[u8]) -> Result<Header, BundleError> {
    // A file shorter than the magic is truncated only if what it has is the magic's beginning.
    if bytes.len() < MAGIC.len() {
        return Err(if MAGIC.starts_with(bytes) {
            BundleError::Truncated { needed: MAGIC.len() as u64, found: bytes.len() }
        } else {
            BundleError::BadMagic
        });
    }
    let mut c = Cursor { bytes, pos: 0 };
    if c.array::<8>()? != MAGIC {
        return Err(BundleError::BadMagic);
    }
    let format_version = u16::from_le_bytes(c.array()?);
    if format_version != FORMAT_VERSION {
        return Err(BundleError::UnsupportedVersion { found: format_version, supported: FORMAT_VERSION });
    }
    let version_len = u16::from_le_bytes(c.array()?);
    let compiler_version = std::str::from_utf8(c.take(usize::from(version_len))?)
        .map_err(|_| BundleError::BadHeader("the compiler version is not valid UTF-8".to_string()))?
        .to_string();
    let signed = match c.array::<1>()? {
        [FLAG_UNSIGNED] => false,
        [FLAG_SIGNED] => true,
        [other] => return Err(BundleError::BadHeader(format!("unknown signature flag {other} (expected 0 or 1)"))),
    };
    let public_key = if signed { Some(c.array::<32>()?) } else { None };
    let payload_len = u64::from_le_bytes(c.array()?);
    let hashed_header_len = c.pos;
    let sha256 = c.array::<32>()?;
    let signature = if signed { Some(c.array::<64>()?) } else { None };
    // The same derivation as [`key_id`], also for bytes that are not a valid point.
    let key_id = public_key.map(|pk| key_id_of_bytes(&pk));
    Ok(Header {
        info: BundleInfo { format_version, compiler_version, sha256, key_id, signed },
        public_key,
        signature,
        hashed_header_len,
        payload_start: c.pos,
        payload_len,
    })
}

/// Reads the header only (magic, version, compiler version, recorded digest, signer), without
/// checking the digest, the signature or the payload: for `aarm inspect` of a damaged bundle.
pub fn read_info(bytes: &[u8]) -> Result<BundleInfo, BundleError> {
    parse_header(bytes).map(|h| h.info)
}

/// Loads a bundle: parses the header, checks the exact length and the digest, then the signature
/// (`trusted`: the keys this host accepts; `require_signature`: refuse an unsigned bundle; a
/// signature that is present must verify, and, when `trusted` is non-empty, be by one of those
/// keys), decodes the payload and runs the bytecode verifier.
pub fn decode(
    bytes: &[u8],
    trusted: &[VerifyingKey],
    require_signature: bool,
) -> Result<(BundleInfo, Program), BundleError> {
    let header = parse_header(bytes)?;
    let file_len = bytes.len() as u64;
    let end = (header.payload_start as u64).saturating_add(header.payload_len);
    if file_len < end {
        return Err(BundleError::Truncated { needed: end, found: bytes.len() });
    }
    if file_len > end {
        return Err(BundleError::TrailingBytes { extra: file_len - end });
    }
    let (hashed_header, payload) = match (bytes.get(..header.hashed_header_len), bytes.get(header.payload_start..)) {
        (Some(h), Some(p)) => (h, p),
        _ => return Err(BundleError::Truncated { needed: end, found: bytes.len() }),
    };

    let mut hasher = Sha256::new();
    hasher.update(hashed_header);
    hasher.update(payload);
    let actual: [u8; 32] = hasher.finalize().into();
    if actual != header.info.sha256 {
        return Err(BundleError::HashMismatch {
            expected: hex::encode(header.info.sha256),
            actual: hex::encode(actual),
        });
    }

    match (header.public_key, header.signature) {
        (Some(pk), Some(sig)) => {
            let key_id = header.info.key_id.clone().unwrap_or_default();
            let key =
                VerifyingKey::from_bytes(&pk).map_err(|_| BundleError::SignatureInvalid { key_id: key_id.clone() })?;
            if !trusted.is_empty() && !trusted.contains(&key) {
                return Err(BundleError::UnknownKey { key_id });
            }
            key.verify_strict(&signed_message(&actual), &Signature::from_bytes(&sig))
                .map_err(|_| BundleError::SignatureInvalid { key_id })?;
        }
        _ if require_signature => return Err(BundleError::SignatureMissing),
        _ => {}
    }

    let program = decode_payload(payload)?;
    if program.compiler_version != header.info.compiler_version {
        return Err(BundleError::CompilerVersionMismatch {
            header: header.info.compiler_version,
            payload: program.compiler_version,
        });
    }
    crate::verify::verify_program(&program)?;
    Ok((header.info, program))
}

/// Decodes the payload, which must be consumed exactly, with bounded allocation and nesting.
fn decode_payload(payload: &[u8]) -> Result<Program, BundleError> {
    let mut reader = SliceReader { rest: payload };
    let mut decoder = bincode::serde::OwnedSerdeDecoder::from_reader(&mut reader, bincode_config());
    let program = Program::deserialize(depth::Limited { inner: decoder.as_deserializer(), depth: 0 })
        .map_err(|e| BundleError::Decode(e.to_string()))?;
    if !reader.rest.is_empty() {
        return Err(BundleError::Decode(format!("{} bytes left over after the program", reader.rest.len())));
    }
    Ok(program)
}

struct SliceReader<'a> {
    rest: &'a [u8],
}

impl bincode::de::read::Reader for SliceReader<'_> {
    fn read(&mut self, bytes: &mut [u8]) -> Result<(), bincode::error::DecodeError> {
        let (head, tail) = self.rest.split_at_checked(bytes.len()).ok_or_else(|| {
            bincode::error::DecodeError::UnexpectedEnd { additional: bytes.len().saturating_sub(self.rest.len()) }
        })?;
        bytes.copy_from_slice(head);
        self.rest = tail;
        Ok(())
    }
}

fn parse_key_bytes(bytes: &[u8], what: &str) -> Result<[u8; 32], BundleError> {
    if let Ok(raw) = <[u8; 32]>::try_from(bytes) {
        return Ok(raw);
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| BundleError::KeyFile(format!("a {what} file holds 32 raw bytes or 64 hex digits")))?
        .trim();
    let decoded = hex::decode(text)
        .map_err(|e| BundleError::KeyFile(format!("a {what} file holds 32 raw bytes or 64 hex digits ({e})")))?;
    <[u8; 32]>::try_from(decoded.as_slice()).map_err(|_| {
        BundleError::KeyFile(format!(
            "a {what} file holds 32 raw bytes or 64 hex digits (found {} hex digits)",
            text.len()
        ))
    })
}

/// Reads an Ed25519 signing (secret) key: 32 raw bytes, or 64 hex digits (whitespace trimmed).
pub fn signing_key_from_file_bytes(bytes: &[u8]) -> Result<SigningKey, BundleError> {
    parse_key_bytes(bytes, "signing key").map(|b| SigningKey::from_bytes(&b))
}

/// Reads an Ed25519 public key: 32 raw bytes, or 64 hex digits (whitespace trimmed).
pub fn verifying_key_from_file_bytes(bytes: &[u8]) -> Result<VerifyingKey, BundleError> {
    let raw = parse_key_bytes(bytes, "public key")?;
    VerifyingKey::from_bytes(&raw).map_err(|_| BundleError::KeyFile("not a valid Ed25519 public key".to_string()))
}

/// A key pair from 32 seed bytes, as (signing key hex, public key hex), in the format the
/// `*_from_file_bytes` functions read. The caller supplies the randomness.
pub fn generate_signing_key_hex(seed: [u8; 32]) -> (String, String) {
    let key = SigningKey::from_bytes(&seed);
    (hex::encode(key.to_bytes()), hex::encode(key.verifying_key().as_bytes()))
}

/// A serde `Deserializer` adapter that refuses values nested deeper than [`MAX_PAYLOAD_DEPTH`]:
/// bincode itself has no depth limit, and `Const`, `ValueType` and `OutcomeData` are recursive,
/// so a small hostile payload could otherwise overflow the stack (an abort, not even a panic).
mod depth {
    use super::MAX_PAYLOAD_DEPTH;
    use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor};
    use std::fmt;

    /// A deserializer for a value at `depth` (the number of values enclosing it).
    pub(super) struct Limited<D> {
        pub(super) inner: D,
        pub(super) depth: usize,
    }

    /// A visitor, seed or access whose nested values are at `depth`.
    pub(super) struct Wrap<T> {
        inner: T,
        depth: usize,
    }

    impl<D> Limited<D> {
        fn child<E: de::Error, T>(&self, inner: T) -> Result<Wrap<T>, E> {
            if self.depth >= MAX_PAYLOAD_DEPTH {
                return Err(E::custom(format_args!("values nest more than {MAX_PAYLOAD_DEPTH} levels deep")));
            }
            Ok(Wrap { inner, depth: self.depth + 1 })
        }
    }

    macro_rules! forward {
        ($($method:ident),*) => {$(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
                let v = self.child(visitor)?;
                self.inner.$method(v)
            }
        )*};
    }

    impl<'de, D: Deserializer<'de>> Deserializer<'de> for Limited<D> {
        type Error = D::Error;

        forward!(
            deserialize_any,
            deserialize_bool,
            deserialize_i8,
            deserialize_i16,
            deserialize_i32,
            deserialize_i64,
            deserialize_i128,
            deserialize_u8,
            deserialize_u16,
            deserialize_u32,
            deserialize_u64,
            deserialize_u128,
            deserialize_f32,
            deserialize_f64,
            deserialize_char,
            deserialize_str,
            deserialize_string,
            deserialize_bytes,
            deserialize_byte_buf,
            deserialize_option,
            deserialize_unit,
            deserialize_seq,
            deserialize_map,
            deserialize_identifier,
            deserialize_ignored_any
        );

        fn deserialize_unit_struct<V: Visitor<'de>>(
            self,
            name: &'static str,
            visitor: V,
        ) -> Result<V::Value, D::Error> {
            let v = self.child(visitor)?;
            self.inner.deserialize_unit_struct(name, v)
        }

        fn deserialize_newtype_struct<V: Visitor<'de>>(
            self,
            name: &'static str,
            visitor: V,
        ) -> Result<V::Value, D::Error> {
            let v = self.child(visitor)?;
            self.inner.deserialize_newtype_struct(name, v)
        }

        fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, D::Error> {
            let v = self.child(visitor)?;
            self.inner.deserialize_tuple(len, v)
        }

        fn deserialize_tuple_struct<V: Visitor<'de>>(
            self,
            name: &'static str,
            len: usize,
            visitor: V,
        ) -> Result<V::Value, D::Error> {
            let v = self.child(visitor)?;
            self.inner.deserialize_tuple_struct(name, len, v)
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            name: &'static str,
            fields: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, D::Error> {
            let v = self.child(visitor)?;
            self.inner.deserialize_struct(name, fields, v)
        }

        fn deserialize_enum<V: Visitor<'de>>(
            self,
            name: &'static str,
            variants: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, D::Error> {
            let v = self.child(visitor)?;
            self.inner.deserialize_enum(name, variants, v)
        }

        fn is_human_readable(&self) -> bool {
            self.inner.is_human_readable()
        }
    }

    macro_rules! visit {
        ($($method:ident($ty:ty)),*) => {$(
            fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
                self.inner.$method(v)
            }
        )*};
    }

    impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<V> {
        type Value = V::Value;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.inner.expecting(f)
        }

        visit!(
            visit_bool(bool),
            visit_i8(i8),
            visit_i16(i16),
            visit_i32(i32),
            visit_i64(i64),
            visit_i128(i128),
            visit_u8(u8),
            visit_u16(u16),
            visit_u32(u32),
            visit_u64(u64),
            visit_u128(u128),
            visit_f32(f32),
            visit_f64(f64),
            visit_char(char),
            visit_str(&str),
            visit_borrowed_str(&'de str),
            visit_string(String),
            visit_bytes(&[u8]),
            visit_borrowed_bytes(&'de [u8]),
            visit_byte_buf(Vec<u8>)
        );

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            self.inner.visit_none()
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            self.inner.visit_unit()
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            self.inner.visit_some(Limited { inner: d, depth: self.depth })
        }

        fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            self.inner.visit_newtype_struct(Limited { inner: d, depth: self.depth })
        }

        fn visit_seq<A: SeqAccess<'de>>(self, a: A) -> Result<Self::Value, A::Error> {
            self.inner.visit_seq(Wrap { inner: a, depth: self.depth })
        }

        fn visit_map<A: MapAccess<'de>>(self, a: A) -> Result<Self::Value, A::Error> {
            self.inner.visit_map(Wrap { inner: a, depth: self.depth })
        }

        fn visit_enum<A: EnumAccess<'de>>(self, a: A) -> Result<Self::Value, A::Error> {
            self.inner.visit_enum(Wrap { inner: a, depth: self.depth })
        }
    }

    impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Wrap<S> {
        type Value = S::Value;

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            self.inner.deserialize(Limited { inner: d, depth: self.depth })
        }
    }

    impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Wrap<A> {
        type Error = A::Error;

        fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, A::Error> {
            self.inner.next_element_seed(Wrap { inner: seed, depth: self.depth })
        }

        fn size_hint(&self) -> Option<usize> {
            self.inner.size_hint()
        }
    }

    impl<'de, A: MapAccess<'de>> MapAccess<'de> for Wrap<A> {
        type Error = A::Error;

        fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
            self.inner.next_key_seed(Wrap { inner: seed, depth: self.depth })
        }

        fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
            self.inner.next_value_seed(Wrap { inner: seed, depth: self.depth })
        }

        fn size_hint(&self) -> Option<usize> {
            self.inner.size_hint()
        }
    }

    impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for Wrap<A> {
        type Error = A::Error;
        type Variant = Wrap<A::Variant>;

        fn variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<(T::Value, Self::Variant), A::Error> {
            let depth = self.depth;
            let (value, variant) = self.inner.variant_seed(Wrap { inner: seed, depth })?;
            Ok((value, Wrap { inner: variant, depth }))
        }
    }

    impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Wrap<A> {
        type Error = A::Error;

        fn unit_variant(self) -> Result<(), A::Error> {
            self.inner.unit_variant()
        }

        fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
            self.inner.newtype_variant_seed(Wrap { inner: seed, depth: self.depth })
        }

        fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
            self.inner.tuple_variant(len, Wrap { inner: visitor, depth: self.depth })
        }

        fn struct_variant<V: Visitor<'de>>(
            self,
            fields: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, A::Error> {
            self.inner.struct_variant(fields, Wrap { inner: visitor, depth: self.depth })
        }
    }
}

#[cfg(test)]
mod hash_string_tests {
    use super::BundleInfo;

    fn info(sha256: [u8; 32]) -> BundleInfo {
        BundleInfo { format_version: 1, compiler_version: String::new(), sha256, key_id: None, signed: false }
    }

    /// `hash_string` is the former `format!("sha256:{}", hex::encode(..))`: on digests of every
    /// byte value in every position, and on 4 096 pseudo-random digests.
    #[test]
    fn the_hash_string_is_the_former_one() {
        let former = |sha256: [u8; 32]| format!("sha256:{}", hex::encode(sha256));
        let mut digests: Vec<[u8; 32]> = (0..=255u8).map(|b| [b; 32]).collect();
        for b in 0..=255u8 {
            let mut d = [0u8; 32];
            for (i, x) in d.iter_mut().enumerate() {
                *x = b.wrapping_add((i as u8).wrapping_mul(37));
            }
            digests.push(d);
        }
        let mut state = 0x853c_49e6_748f_ea9bu64;
        for _ in 0..4_096 {
            let mut d = [0u8; 32];
            for x in d.iter_mut() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *x = state as u8;
            }
            digests.push(d);
        }
        for d in digests {
            assert_eq!(info(d).hash_string(), former(d));
        }
    }
}
