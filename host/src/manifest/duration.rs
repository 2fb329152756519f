//! Durations as people write them in manifests: "5m", "60s", "200ms", "1h 30m".

use std::time::Duration;

/// Parses "300ms", "60s", "5m", "1h", "1m30s", "0". A bare number is refused (seconds or
/// milliseconds? the reader of the manifest should not have to guess), except 0.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(trimmed).map_err(|err| {
        format!(
            "`{text}` is not a duration ({err}); write e.g. \"200ms\", \"60s\", \"5m\" or \"1h\""
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_common_units() {
        assert_eq!(parse_duration("200ms"), Ok(Duration::from_millis(200)));
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn refuses_bare_numbers_and_garbage() {
        assert!(parse_duration("60").is_err());
        assert!(parse_duration("five minutes").is_err());
        assert!(parse_duration("").is_err());
    }
}
