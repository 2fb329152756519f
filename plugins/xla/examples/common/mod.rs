//! What the examples share: their command-line flags.

/// The value after flag `key` in `args`, else `default`.
pub fn arg(args: &[String], key: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == key)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_string())
}
