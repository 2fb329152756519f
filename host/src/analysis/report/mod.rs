//! Presentation of results for people: paper-like tables (Markdown and CSV) and the
//! self-contained HTML report. Nothing here computes statistics.

pub mod html;
pub mod tables;
