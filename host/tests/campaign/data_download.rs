//! MNIST missing everywhere and no folder named: the host downloads it into the user cache,
//! verified file by file, from the first mirror that serves the published bytes. Mirrors here
//! are a loopback HTTP server (`$JOULEBENCH_MNIST_MIRRORS`) serving the shared files, and one
//! serving broken ones.

use crate::support::*;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const NAMES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// Serves `/good/<name>.gz` from the shared data and `/bad/<name>.gz` as the first half of it
/// (a cut-short gzip stream); anything else is 404. Returns the base URL.
fn serve_mnist() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let data = mnist_dir();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = String::new();
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                if line == "\r\n" {
                    break;
                }
                request.push_str(&line);
                line.clear();
            }
            let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
            let body = body_for(&data, &path);
            let head = match &body {
                Some(b) => format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/gzip\r\nConnection: close\r\n\r\n",
                    b.len()
                ),
                None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_string(),
            };
            let _ = stream.write_all(head.as_bytes());
            if let Some(b) = body {
                let _ = stream.write_all(&b);
            }
        }
    });
    base
}

fn body_for(data: &Path, path: &str) -> Option<Vec<u8>> {
    let (kind, file) = path.trim_start_matches('/').split_once('/')?;
    let bytes = std::fs::read(data.join(file)).ok()?;
    match kind {
        "good" => Some(bytes),
        "bad" => Some(bytes[..bytes.len() / 2].to_vec()),
        _ => None,
    }
}

/// `host run m.toml --dry-run` with no MNIST_DIR, the cache under `cache_home`.
fn dry_run(dir: &Path, cache_home: &Path, mirrors: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_host"))
        .current_dir(dir)
        .env_remove("MNIST_DIR")
        .env("XDG_CACHE_HOME", cache_home)
        .env("JOULEBENCH_MNIST_MIRRORS", mirrors)
        .args(["run", "m.toml", "--dry-run"])
        .output()
        .expect("host runs")
}

fn setup(tag: &str) -> (TempDir, PathBuf) {
    let dir = temp_dir(tag);
    let m = manifest(&format!(
        "[[plugin]]\nname = \"spin\"\npath = \"{}\"\n",
        plugin("spin").display()
    ));
    std::fs::write(dir.join("m.toml"), m).unwrap();
    let cache_home = dir.join("cache-home");
    (dir, cache_home)
}

#[test]
fn missing_mnist_is_downloaded_verified_from_the_first_good_mirror() {
    let (dir, cache_home) = setup("download-ok");
    let base = serve_mnist();
    let out = dry_run(&dir, &cache_home, &format!("{base}/bad/,{base}/good/"));
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    let cache = cache_home.join("joulebench/mnist");
    assert!(
        t.contains("downloading it into") && t.contains(&cache.display().to_string()),
        "{t}"
    );
    assert!(t.contains("SHA-256 verified"), "{t}");
    // The bad mirror was tried first and refused; the cache holds exactly the published files.
    for name in NAMES {
        let kept = std::fs::read(cache.join(format!("{name}.gz"))).expect("kept in the cache");
        let shared = std::fs::read(mnist_dir().join(format!("{name}.gz"))).expect("shared");
        assert!(kept == shared, "{name}.gz differs from the published file");
    }
    let leftovers: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".part"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Next time the cache is found: nothing is fetched (the server is no longer asked).
    let out = dry_run(&dir, &cache_home, "http://127.0.0.1:9/none/");
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("downloading"), "{}", text(&out));
}

#[test]
fn when_every_mirror_fails_nothing_is_kept_and_the_error_says_where_it_looked() {
    let (dir, cache_home) = setup("download-bad");
    let base = serve_mnist();
    let out = dry_run(&dir, &cache_home, &format!("{base}/bad/,{base}/nothing/"));
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("MNIST not found"), "{t}");
    assert!(t.contains("Downloading it failed too"), "{t}");
    assert!(
        t.contains("/bad/train-images-idx3-ubyte.gz") && t.contains("gzip"),
        "{t}"
    );
    assert!(
        t.contains("/nothing/train-images-idx3-ubyte.gz") && t.contains("404"),
        "{t}"
    );
    let cache = cache_home.join("joulebench/mnist");
    let kept: Vec<_> = std::fs::read_dir(&cache)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(kept.is_empty(), "nothing unverified is kept: {kept:?}");

    // With the download turned off, the plain not-found error.
    let out = dry_run(&dir, &cache_home, "");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("MNIST not found"), "{}", text(&out));
    assert!(!text(&out).contains("downloading"), "{}", text(&out));
}
