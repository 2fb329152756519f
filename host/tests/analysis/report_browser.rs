//! A real browser looks at report.html: headless Chromium (Debian's `chromium`) renders
//! the report of the study's data inside a checker page and the test fails on a broken
//! image, an empty or missing plot, a console message (an SVG attribute the browser
//! rejects, say) or a missing section. A screenshot of the report is kept in
//! `target/tmp/report-browser/report.png` for people to look at.
//!
//! Without Chromium the test is skipped with a message, except under CI (`CI` set), where
//! it must run: `.ci/run` installs it. `$CHROMIUM` names another binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::analysis::*;
use joulebench::analysis::default_pipeline;

/// `$CHROMIUM`, else the first of the usual names on `PATH`.
fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find_map(|dir| {
        ["chromium", "chromium-browser", "google-chrome"]
            .iter()
            .map(|name| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// Chromium, or `None` after saying why the test is skipped (outside CI only).
fn browser_or_skip(test: &str) -> Option<PathBuf> {
    match chromium() {
        Some(b) => Some(b),
        None if std::env::var_os("CI").is_some() => {
            panic!("{test}: chromium is not installed, and CI is set: apt-get install chromium (see .ci/run)")
        }
        None => {
            eprintln!(
                "{test}: SKIPPED: chromium not found (apt-get install chromium, or set CHROMIUM)"
            );
            None
        }
    }
}

/// Runs Chromium headless with `args`, killed after two minutes; (stdout, stderr).
fn run_browser(browser: &Path, profile: &Path, args: &[String]) -> (String, String) {
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--allow-file-access-from-files",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", browser.display()));
    let (mut out, mut err) = (
        child.stdout.take().expect("stdout"),
        child.stderr.take().expect("stderr"),
    );
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out, &mut s).ok();
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut err, &mut s).ok();
        s
    });
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("chromium did not finish within 2 minutes");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    (
        reader.join().expect("stdout"),
        err_reader.join().expect("stderr"),
    )
}

/// The checker: loads `page` in a frame and writes what it finds as JSON into the DOM.
const CHECKER: &str = r#"<!DOCTYPE html><html><body><pre id="result">pending</pre>
<iframe id="f" src="PAGE" width="1280" height="3000"></iframe>
<script>
document.getElementById('f').addEventListener('load', () => {
  const out = {images: [], svgs: [], ids: [], h2: []};
  try {
    const d = document.getElementById('f').contentDocument;
    for (const img of d.images) out.images.push([img.getAttribute('src'), img.complete && img.naturalWidth > 0]);
    for (const s of d.querySelectorAll('figure svg')) {
      const r = s.getBoundingClientRect();
      out.svgs.push([r.width, r.height, s.querySelectorAll('path,polygon,polyline,rect,circle,line,text').length]);
    }
    out.ids = [...d.querySelectorAll('section[id]')].map(e => e.id);
    out.h2 = [...d.querySelectorAll('h2')].map(e => e.textContent);
  } catch (e) { out.error = String(e); }
  document.getElementById('result').textContent = JSON.stringify(out);
});
</script></body></html>"#;

/// What the browser found wrong with `dir/page`, as sentences (empty: all well).
fn problems(
    browser: &Path,
    dir: &Path,
    page: &str,
    ids: &[&str],
    headings: &[&str],
) -> Vec<String> {
    let checker = dir.join("browser-check.html");
    std::fs::write(&checker, CHECKER.replace("PAGE", page)).expect("write checker");
    let (dom, log) = run_browser(
        browser,
        &dir.join("profile"),
        &[
            "--virtual-time-budget=10000".into(),
            "--dump-dom".into(),
            format!("file://{}", checker.display()),
        ],
    );
    let start = dom
        .find("<pre id=\"result\">")
        .expect("checker output in the DOM")
        + 17;
    let end = start + dom[start..].find("</pre>").expect("end of output");
    let json = dom[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let found: serde_json::Value = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("checker output is not JSON ({e}): {json}"));
    let mut bad = Vec::new();
    if let Some(e) = found.get("error") {
        bad.push(format!("the checker could not read the page: {e}"));
    }
    for img in found["images"].as_array().into_iter().flatten() {
        if img[1] != true {
            bad.push(format!("broken image {}", img[0].as_str().unwrap_or("?")));
        }
    }
    let svgs = found["svgs"].as_array().cloned().unwrap_or_default();
    for (i, svg) in svgs.iter().enumerate() {
        let (w, h, shapes) = (
            svg[0].as_f64().unwrap_or(0.0),
            svg[1].as_f64().unwrap_or(0.0),
            svg[2].as_u64().unwrap_or(0),
        );
        if w < 100.0 || h < 100.0 || shapes < 10 {
            bad.push(format!(
                "plot {} is empty or not drawn ({w}×{h}, {shapes} shapes)",
                i + 1
            ));
        }
    }
    let have_ids: Vec<&str> = found["ids"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str())
        .collect();
    for id in ids {
        if !have_ids.contains(id) {
            bad.push(format!("no section #{id}"));
        }
    }
    let have_h2: Vec<&str> = found["h2"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str())
        .collect();
    for h in headings {
        if !have_h2.iter().any(|x| x.starts_with(h)) {
            bad.push(format!("no heading \"{h}\""));
        }
    }
    // The report has no scripts: any console message is the browser complaining.
    for line in log
        .lines()
        .filter(|l| l.contains(":CONSOLE") && l.contains(page))
    {
        bad.push(format!("console: {line}"));
    }
    bad
}

#[test]
fn the_studys_report_renders_in_a_browser() {
    let Some(browser) = browser_or_skip("the_studys_report_renders_in_a_browser") else {
        return;
    };
    let tmp = TempDir::new("browser");
    let out = tmp.path().join("analysis");
    let mut steps = default_pipeline();
    steps.insert(6, step("step = \"sequential\""));
    run(&[&energibridge_mnist()], steps, &out).expect("analyze");
    let found = problems(
        &browser,
        &out,
        "report.html",
        &["findings", "runs-needed", "sequential"],
        &[
            "Findings",
            "How many runs",
            "Stopping early",
            "Data",
            "Dropped",
            "Descriptive statistics",
            "Comparisons",
            "Distributions",
        ],
    );
    assert!(
        found.is_empty(),
        "report.html in Chromium:\n{}",
        found.join("\n")
    );

    // A screenshot for people: the whole report, kept after the test.
    let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-browser");
    std::fs::create_dir_all(&keep).expect("screenshot folder");
    let png = keep.join("report.png");
    let _ = std::fs::remove_file(&png);
    run_browser(
        &browser,
        &out.join("profile"),
        &[
            "--window-size=1280,9000".into(),
            format!("--screenshot={}", png.display()),
            format!("file://{}", out.join("report.html").display()),
        ],
    );
    let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 50_000,
        "no screenshot at {} ({size} bytes)",
        png.display()
    );
    println!("screenshot: {}", png.display());
}

#[test]
fn the_checker_catches_a_broken_page() {
    let Some(browser) = browser_or_skip("the_checker_catches_a_broken_page") else {
        return;
    };
    let tmp = TempDir::new("browser-bad");
    tmp.write(
        "bad.html",
        "<!DOCTYPE html><html><body><h2>Findings</h2><img src=\"missing.png\">\
         <figure><svg width=\"300\" height=\"300\"><path d=\"M NaN 0 L 10 10\"/></svg></figure>\
         <script>console.error('boom')</script></body></html>",
    );
    let found = problems(
        &browser,
        tmp.path(),
        "bad.html",
        &["findings"],
        &["Findings", "Data"],
    );
    let text = found.join("\n");
    for want in [
        "broken image missing.png",
        "plot 1 is empty",
        "no section #findings",
        "no heading \"Data\"",
        "Expected number",
        "boom",
    ] {
        assert!(text.contains(want), "the checker missed `{want}`:\n{text}");
    }
}
