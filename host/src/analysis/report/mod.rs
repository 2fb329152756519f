//! Presentation of results for people: paper-like tables (Markdown and CSV) and the
//! self-contained HTML report. Nothing here computes statistics.

pub mod findings;
pub mod html;
pub mod html_findings;
pub mod tables;
pub mod words;
