//! plotters draws text with a font it is given: we register a TrueType file read at run
//! time, so the binary carries no font and needs no fontconfig. `$JOULEBENCH_FONT`
//! names one; otherwise the usual places of DejaVu Sans (Debian: `fonts-dejavu-core`)
//! and Liberation Sans (`fonts-liberation`) are tried.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::style::{register_font, FontStyle};

/// The family name plots ask for.
pub const FAMILY: &str = "sans-serif";

const CANDIDATES: &[(&str, &str)] = &[
    (
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    ),
    (
        "/usr/share/fonts/TTF/DejaVuSans.ttf",
        "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",
    ),
    (
        "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans-Bold.ttf",
    ),
    (
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",
    ),
    (
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    ),
    ("/Library/Fonts/Arial.ttf", "/Library/Fonts/Arial Bold.ttf"),
    (
        "C:\\Windows\\Fonts\\arial.ttf",
        "C:\\Windows\\Fonts\\arialbd.ttf",
    ),
];

static REGISTERED: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// Registers a font once per process; `Err` tells the user what to install.
pub fn ensure() -> Result<&'static Path, &'static str> {
    REGISTERED
        .get_or_init(register)
        .as_deref()
        .map_err(|e| e.as_str())
}

fn register() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("JOULEBENCH_FONT") {
        let path = PathBuf::from(path);
        return load(&path, None)
            .map(|_| path.clone())
            .map_err(|e| format!("$JOULEBENCH_FONT: {e}"));
    }
    for (regular, bold) in CANDIDATES {
        let path = Path::new(regular);
        if path.is_file() && load(path, Some(Path::new(bold))).is_ok() {
            return Ok(path.to_path_buf());
        }
    }
    Err("no font found for plot text: install a TrueType font (Debian: apt-get install fonts-dejavu-core) \
         or set JOULEBENCH_FONT to a .ttf file"
        .to_string())
}

fn load(regular: &Path, bold: Option<&Path>) -> Result<(), String> {
    let bytes = read(regular)?;
    register_font(FAMILY, FontStyle::Normal, bytes)
        .map_err(|_| format!("{}: not a usable TrueType font", regular.display()))?;
    // Bold is optional: plotters falls back to the normal face.
    let bold_bytes = bold
        .filter(|b| b.is_file())
        .and_then(|b| read(b).ok())
        .unwrap_or(bytes);
    let _ = register_font(FAMILY, FontStyle::Bold, bold_bytes);
    Ok(())
}

/// The font must live as long as plotters' registry: leaked once per process.
fn read(path: &Path) -> Result<&'static [u8], String> {
    std::fs::read(path)
        .map(|b| &*Box::leak(b.into_boxed_slice()))
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
}
