//! The serialized `xla.CompileOptionsProto` that `PJRT_Client_Compile` takes, written by hand:
//! we set three fields, which is less than a protobuf dependency and its generated code.
//!
//! Field numbers (xla/pjrt/proto/compile_options.proto):
//! - `CompileOptionsProto.executable_build_options = 3` (message),
//!   `ExecutableBuildOptionsProto.num_replicas = 4`, `.num_partitions = 5` (int64);
//! - `CompileOptionsProto.env_option_overrides = 7`: `map<string, OptionOverrideProto>`, each
//!   entry a message `{ key = 1; value = 2 }`; `OptionOverrideProto.bool_field = 2`. XLA applies these to the compile's debug options as if they were
//!   `XLA_FLAGS`, but for this compile only.

/// An override of one XLA debug option for one compile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Override {
    Bool(&'static str, bool),
}

/// One replica, one partition, and `overrides`.
pub fn encode(overrides: &[Override]) -> Vec<u8> {
    let mut build = Vec::new();
    varint_field(&mut build, 4, 1);
    varint_field(&mut build, 5, 1);
    let mut out = Vec::new();
    message_field(&mut out, 3, &build);
    for o in overrides {
        let (key, value) = match o {
            Override::Bool(key, v) => {
                let mut value = Vec::new();
                varint_field(&mut value, 2, u64::from(*v));
                (key, value)
            }
        };
        let mut entry = Vec::new();
        message_field(&mut entry, 1, key.as_bytes());
        message_field(&mut entry, 2, &value);
        message_field(&mut out, 7, &entry);
    }
    out
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Wire type 0.
fn varint_field(out: &mut Vec<u8>, field: u64, v: u64) {
    varint(out, field << 3);
    varint(out, v);
}

/// Wire type 2 (length-delimited: messages, strings).
fn message_field(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    varint(out, (field << 3) | 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_the_build_options_and_overrides() {
        // Hand-decoded: 0x1a = field 3, length 4: 0x20 0x01 (field 4 = 1), 0x28 0x01 (5 = 1).
        assert_eq!(encode(&[]), vec![0x1a, 4, 0x20, 1, 0x28, 1]);
        let bytes = encode(&[Override::Bool("ab", false)]);
        // Entry: 0x3a = field 7, length 8: key (0x0a, 2, 'a', 'b'), value (0x12, 2, 0x10, 0).
        assert_eq!(
            &bytes[6..],
            &[0x3a, 8, 0x0a, 2, b'a', b'b', 0x12, 2, 0x10, 0]
        );
        // Two entries, in order; a long key takes a two-byte length.
        let long: &'static str = Box::leak("k".repeat(200).into_boxed_str());
        let bytes = encode(&[Override::Bool("a", true), Override::Bool(long, true)]);
        assert_eq!(
            &bytes[6..16],
            &[0x3a, 7, 0x0a, 1, b'a', 0x12, 2, 0x10, 1, 0x3a]
        );
        // 200 + 3 (key tag and length) + 4 (value) = 207 = 0xcf 0x01; key length 200 = 0xc8 0x01.
        assert_eq!(&bytes[16..20], &[0xcf, 0x01, 0x0a, 0xc8]);
        assert_eq!(bytes.len(), 16 + 2 + 207);
    }
}
