//! Quoting for the commands the host prints for a person to copy (`resume with: host run …`,
//! `rerun host analyze …`): a path with a space, a quote or a `$` must paste back into a POSIX
//! shell as the same single word. A leaf module: it imports nothing from the crate.

use std::path::Path;

/// `word` as one POSIX shell word: unchanged when it holds only characters no shell treats
/// specially, else in single quotes (a single quote inside written as `'\''`).
pub fn quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-+=.,/:@%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// [`quote`] for a path (shown as `Path::display` does).
pub fn quote_path(path: &Path) -> String {
    quote(&path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `sh` makes of `line`: its words, one per line (printf '%s\n').
    fn words_of(line: &str) -> Vec<String> {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf '%s\\n' {line}"))
            .output()
            .expect("sh runs");
        assert!(out.status.success(), "{line}");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect()
    }

    #[test]
    fn plain_words_are_left_alone() {
        assert_eq!(
            quote("results/quick-20260101T120000Z"),
            "results/quick-20260101T120000Z"
        );
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn every_awkward_word_reads_back_as_itself_through_sh() {
        let words = [
            "my results/a b",
            "it's",
            "$HOME",
            "a\"b",
            "back\\slash",
            "semi;colon && rm -rf x",
            "*glob?",
            "~tilde",
            "new\nline",
            "''",
            "é ü",
        ];
        for w in words {
            let quoted = quote(w);
            if w.contains('\n') {
                // printf splits its output on the newline; compare the joined lines.
                assert_eq!(words_of(&quoted).join("\n"), w, "{quoted}");
            } else {
                assert_eq!(words_of(&quoted), vec![w.to_string()], "{quoted}");
            }
        }
    }
}
