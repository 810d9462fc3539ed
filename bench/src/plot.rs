//! The PNG plot: roster sync time against group size, with the quota bound.
//!
//! Text is drawn with plotters' `ab_glyph` backend and a font embedded in the binary
//! (Ubuntu Light, from `epaint_default_fonts`), so no system font lookup is needed.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

/// One line on the plot.
#[derive(Debug, Clone)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub color: RGBColor,
    /// Dashed without markers (a bound), or solid with markers (a measurement).
    pub bound: bool,
}

pub const BLUE_: RGBColor = RGBColor(31, 100, 180);
pub const GREEN_: RGBColor = RGBColor(30, 140, 70);
pub const RED_: RGBColor = RGBColor(200, 50, 40);
pub const ORANGE_: RGBColor = RGBColor(230, 130, 20);

/// Axis labels: whole, non-negative numbers far below 2^53.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn whole(x: f64) -> u64 {
    x.round().max(0.0) as u64
}

pub fn draw(path: &Path, title: &str, x_label: &str, y_label: &str, series: &[Series]) -> Result<(), String> {
    register_font("sans-serif", FontStyle::Normal, epaint_default_fonts::UBUNTU_LIGHT)
        .map_err(|_| "the embedded font could not be read".to_owned())?;
    let all = series.iter().flat_map(|s| s.points.iter());
    let (mut x_max, mut y_min, mut y_max) = (1.0f64, f64::MAX, 0.0f64);
    for &(x, y) in all {
        x_max = x_max.max(x);
        y_min = y_min.min(y);
        y_max = y_max.max(y);
    }
    if y_max <= 0.0 {
        return Err("nothing to plot".into());
    }
    let y_range = (y_min.max(0.01) / 2.0)..(y_max * 2.0);
    let root = BitMapBackend::new(path, (1200, 760)).into_drawing_area();
    let err = |e: DrawingAreaErrorKind<_>| format!("plot: {e}");
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 26))
        .margin(24)
        .x_label_area_size(56)
        .y_label_area_size(84)
        .build_cartesian_2d(0f64..(x_max * 1.05), y_range.log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .light_line_style(RGBColor(238, 238, 238))
        .x_desc(x_label)
        .y_desc(y_label)
        .axis_desc_style(("sans-serif", 20))
        .label_style(("sans-serif", 17))
        .x_label_formatter(&|x| crate::calls::thousands(whole(*x)))
        .y_label_formatter(&|y| {
            if *y >= 10.0 {
                format!("{y:.0}")
            } else {
                format!("{y:.1}")
            }
        })
        .draw()
        .map_err(err)?;
    for s in series {
        let style = ShapeStyle::from(&s.color).stroke_width(if s.bound { 2 } else { 3 });
        let color = s.color;
        if s.bound {
            chart
                .draw_series(DashedLineSeries::new(s.points.iter().copied(), 10, 6, style))
                .map_err(err)?
                .label(s.label.clone())
                .legend(move |(x, y)| {
                    EmptyElement::at((x, y))
                        + PathElement::new(vec![(0, 0), (9, 0)], color.stroke_width(2))
                        + PathElement::new(vec![(15, 0), (24, 0)], color.stroke_width(2))
                });
        } else {
            chart
                .draw_series(LineSeries::new(s.points.iter().copied(), style))
                .map_err(err)?
                .label(s.label.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3)));
            chart
                .draw_series(s.points.iter().map(|&p| Circle::new(p, 5, color.filled())))
                .map_err(err)?;
        }
    }
    chart
        .configure_series_labels()
        .label_font(("sans-serif", 17))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}
