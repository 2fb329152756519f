//! Plots with `plotters`: violin plots per metric, as SVG and PNG. Text needs a font
//! file at run time (see [`font`]); nothing is downloaded.

pub mod font;
pub mod violin;
