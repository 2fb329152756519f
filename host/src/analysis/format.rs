//! Number formatting shared by tables, the report and the terminal summary, so every
//! output shows the same figure the same way.

/// A measurement: three decimals ("120.000"), scientific when very large or small.
pub fn num(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".to_string();
    }
    let a = x.abs();
    if a != 0.0 && !(1e-3..1e9).contains(&a) {
        format!("{x:.3e}")
    } else {
        format!("{x:.3}")
    }
}

/// A value with its unit: "120.000 s".
pub fn with_unit(x: f64, unit: &str) -> String {
    format!("{} {unit}", num(x))
}

/// A percentage change with its sign: "+25.00 %".
pub fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{x:+.2} %")
    } else {
        "n/a".to_string()
    }
}

/// A p-value: four decimals, scientific below 1e-3 ("3.21e-12").
pub fn p(x: f64) -> String {
    if !x.is_finite() {
        "n/a".to_string()
    } else if x == 0.0 {
        // Below the smallest double: say so rather than print a p of exactly zero.
        "< 1e-300".to_string()
    } else if x < 1e-3 {
        format!("{x:.2e}")
    } else {
        format!("{x:.4}")
    }
}

/// An optional figure, or an em dash.
pub fn opt(x: Option<f64>, f: impl Fn(f64) -> String) -> String {
    x.map(f).unwrap_or_else(|| "—".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(with_unit(120.0, "s"), "120.000 s");
        assert_eq!(pct(25.0), "+25.00 %");
        assert_eq!(pct(-3.456), "-3.46 %");
        assert_eq!(p(0.01234), "0.0123");
        assert_eq!(p(3.2e-12), "3.20e-12");
        assert_eq!(num(f64::NAN), "n/a");
    }
}
