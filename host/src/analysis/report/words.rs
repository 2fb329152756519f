//! Numbers as a sentence shows them: "4,910 J", "38.5 %", "[0.611, 0.616]", "2.1e-13",
//! "δ = −1". Tables keep their own fixed formats ([`crate::analysis::format`]); findings
//! read like prose, with as many digits as the figure deserves and no more.

/// Thousands separators on the integer part: "7989.4" → "7,989.4".
fn group_thousands(text: &str) -> String {
    let (sign, rest) = match text.strip_prefix('-') {
        Some(r) => ("−", r),
        None => ("", text),
    };
    let (int, frac) = match rest.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (rest, None),
    };
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// A measured amount with four significant figures, whole numbers from 1,000 up:
/// 4910.235 → "4,910", 121.512 → "121.5", 40.444 → "40.44", 0.0012345 → "0.001235".
pub fn amount(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".into();
    }
    let a = x.abs();
    if a >= 1e15 || (a != 0.0 && a < 1e-4) {
        return format!("{x:.3e}").replace('-', "−");
    }
    if a >= 1000.0 {
        return group_thousands(&format!("{x:.0}"));
    }
    let decimals = if a == 0.0 {
        0
    } else {
        (3 - a.log10().floor() as i32).max(0) as usize
    };
    group_thousands(&format!("{x:.decimals$}"))
}

/// An amount with its unit: "4,910 J".
pub fn with_unit(x: f64, unit: &str) -> String {
    format!("{} {unit}", amount(x))
}

/// A percentage without sign: 38.54 → "38.5 %", 0.3612 → "0.36 %", 162.77 → "163 %".
pub fn percent(x: f64) -> String {
    let a = x.abs();
    if !a.is_finite() {
        return "n/a".into();
    }
    let text = if a >= 100.0 || (a >= 1.0 && a.fract() == 0.0) {
        format!("{a:.0}")
    } else if a >= 1.0 {
        format!("{a:.1}")
    } else if a >= 0.01 {
        format!("{a:.2}")
    } else {
        format!("{a:.1e}")
    };
    format!("{text} %")
}

/// "a" or "an" before a number as it is read aloud: an 8, an 11, an 18, an 80.5, a 1.
pub fn article(number: &str) -> &'static str {
    let digits: String = number
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',')
        .filter(|c| c.is_ascii_digit())
        .collect();
    let eleven_or_eighteen =
        (digits.starts_with("11") || digits.starts_with("18")) && digits.len() % 3 == 2;
    if digits.starts_with('8') || eleven_or_eighteen {
        "an"
    } else {
        "a"
    }
}

/// A ratio and its interval with enough decimals to tell the ends apart (3 to 6):
/// "[0.611, 0.616]".
pub fn interval(low: f64, high: f64) -> String {
    let mut decimals = 3;
    while decimals < 6 && format!("{low:.decimals$}") == format!("{high:.decimals$}") {
        decimals += 1;
    }
    format!("[{low:.decimals$}, {high:.decimals$}]")
}

/// A p-value with two significant figures: "2.1e-13", "0.031", "1".
pub fn p(x: f64) -> String {
    if !x.is_finite() {
        "n/a".into()
    } else if x == 0.0 {
        "< 1e-300".into()
    } else if x >= 0.9995 {
        "1".into()
    } else if x < 1e-3 {
        format!("{x:.1e}")
    } else {
        let decimals = (1 - x.log10().floor() as i32).max(2) as usize;
        let text = format!("{x:.decimals$}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// A signed effect size with a true minus: −1 → "−1", 0.8734 → "0.87".
pub fn signed(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".into();
    }
    let text = format!("{x:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    let text = if text == "-0" { "0" } else { text };
    text.replace('-', "−")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_like_the_issue_asks() {
        assert_eq!(amount(4910.235), "4,910");
        assert_eq!(amount(7989.438), "7,989");
        assert_eq!(amount(8_055_534.45), "8,055,534");
        assert_eq!(amount(121.512), "121.5");
        assert_eq!(amount(40.444), "40.44");
        assert_eq!(amount(0.55), "0.5500");
        assert_eq!(amount(-1234.6), "−1,235");
        assert_eq!(amount(0.0), "0");
        assert_eq!(amount(3.2e-6), "3.200e−6");
        assert_eq!(with_unit(4910.235, "J"), "4,910 J");
    }

    #[test]
    fn percents_ratios_and_p_values() {
        assert_eq!(percent(38.54), "38.5 %");
        assert_eq!(percent(-0.3612), "0.36 %");
        assert_eq!(percent(162.77), "163 %");
        assert_eq!(percent(5.0), "5 %");
        for (n, a) in [
            ("8 %", "an"),
            ("80.5 %", "an"),
            ("11 %", "an"),
            ("18.2 %", "an"),
            ("1 %", "a"),
            ("110 %", "a"),
            ("61.9 %", "a"),
            ("11,000", "an"),
        ] {
            assert_eq!(article(n), a, "{n}");
        }
        assert_eq!(interval(0.6112, 0.6158), "[0.611, 0.616]");
        assert_eq!(interval(0.99612, 0.99648), "[0.9961, 0.9965]");
        assert_eq!(p(2.09e-13), "2.1e-13");
        assert_eq!(p(0.0312), "0.031");
        assert_eq!(p(0.2), "0.2");
        assert_eq!(p(0.9999), "1");
        assert_eq!(p(0.0), "< 1e-300");
        assert_eq!(signed(-1.0), "−1");
        assert_eq!(signed(0.8734), "0.87");
        assert_eq!(signed(-0.001), "0");
    }
}
