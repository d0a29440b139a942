//! Line charts drawn with plotters' SVG backend: round ticks, a legend in
//! a panel of its own beside the plot (sized to its longest label, so it is
//! never clipped and never covers a curve), series told apart by colour,
//! marker shape and dash pattern together (so two policies with identical
//! results stay visible, one over the other), a reference line named in the
//! legend, and answers marked on the curve they belong to.
//!
//! plotters is built without a font engine: text is written as SVG text
//! for the viewer to render, and its width is estimated (0.7 em a
//! character), so the same chart gives the same bytes on every machine.

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

/// One line of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Points, in x order.
    pub points: Vec<(f64, f64)>,
}

impl Series {
    /// Groups `(series name, point)` pairs into series, in order of first
    /// appearance, each sorted by x.
    pub fn group(points: impl IntoIterator<Item = (String, (f64, f64))>) -> Vec<Series> {
        let mut series: Vec<Series> = Vec::new();
        for (name, point) in points {
            match series.iter_mut().find(|s| s.name == name) {
                Some(s) => s.points.push(point),
                None => series.push(Series {
                    name,
                    points: vec![point],
                }),
            }
        }
        for s in &mut series {
            s.points.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        series
    }
}

/// A point to single out on a series (a plan's answer): ringed, joined to
/// the x axis by a dotted line in the series' colour, its x written there.
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    /// Index of the series in [`LineChart::series`].
    pub series: usize,
    /// Where.
    pub at: (f64, f64),
    /// What the legend says of it after the series' name; `None`: its x.
    pub legend: Option<String>,
}

/// A horizontal reference line (a target).
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    /// Its height.
    pub y: f64,
    /// Its legend entry.
    pub label: String,
}

/// A line chart.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LineChart {
    /// Title above the plot.
    pub title: String,
    /// X axis label.
    pub x_label: String,
    /// Y axis label.
    pub y_label: String,
    /// The lines.
    pub series: Vec<Series>,
    /// A horizontal reference line.
    pub reference: Option<Reference>,
    /// Points singled out.
    pub marks: Vec<Mark>,
    /// Start the y axis at 0 (for quantities, so that heights compare).
    pub y_from_zero: bool,
    /// Draw each series' points as markers only (a scatter), not joined.
    pub markers_only: bool,
}

/// Plot width (the legend panel comes on top).
const PLOT_WIDTH: u32 = 720;
/// Height of one plot.
const PLOT_HEIGHT: u32 = 440;
/// Most markers drawn on one series.
const MAX_MARKERS: usize = 40;
/// Font size of legends and tick labels.
const FONT: u32 = 13;
/// A colour-blind-safe palette (Okabe-Ito, without its pale yellow).
const PALETTE: [RGBColor; 7] = [
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0x00, 0x00, 0x00),
];
const GREY: RGBColor = RGBColor(0x80, 0x80, 0x80);

/// How series `index` is drawn: colour, marker and dash all change from one
/// series to the next.
#[derive(Debug, Clone, Copy)]
struct Style {
    colour: RGBColor,
    marker: Marker,
    /// Dash and gap lengths; `None` is solid.
    dash: Option<(u32, u32)>,
}

#[derive(Debug, Clone, Copy)]
enum Marker {
    Circle,
    Triangle,
    Square,
    Cross,
}

impl Style {
    fn of(index: usize) -> Style {
        Style {
            colour: PALETTE[index % PALETTE.len()],
            marker: [
                Marker::Circle,
                Marker::Triangle,
                Marker::Square,
                Marker::Cross,
            ][index % 4],
            dash: [None, Some((8, 4)), Some((2, 3))][index % 3],
        }
    }
}

impl LineChart {
    /// The chart as an SVG document.
    pub fn render(&self) -> String {
        render_stacked(std::slice::from_ref(self))
    }
}

/// Several charts one above the other in one SVG document, each with its
/// own legend beside it (a time series: GPUs above, shares below).
pub fn render_stacked(charts: &[LineChart]) -> String {
    let legend_width = charts.iter().map(legend_width).max().unwrap_or(LEGEND_MIN);
    let width = PLOT_WIDTH + legend_width;
    let height = PLOT_HEIGHT * charts.len().max(1) as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).expect("drawing to memory");
        let panels = root.split_evenly((charts.len().max(1), 1));
        for (chart, panel) in charts.iter().zip(panels) {
            let (plot, legend) = panel.split_horizontally(PLOT_WIDTH);
            draw_plot(chart, &plot);
            draw_legend(chart, &legend);
        }
        root.present().expect("drawing to memory");
    }
    svg.push('\n');
    svg
}

/// Narrowest and widest legend panel.
const LEGEND_MIN: u32 = 180;
const LEGEND_MAX: u32 = 520;

/// Width of a chart's legend panel: its longest entry at the estimated
/// text width, plus the line sample and margins.
fn legend_width(chart: &LineChart) -> u32 {
    let longest = legend_entries(chart)
        .iter()
        .map(|(text, _)| text.chars().count())
        .max()
        .unwrap_or(0);
    let text = (longest as f64 * f64::from(FONT) * 0.62).ceil() as u32;
    (text + 70).clamp(LEGEND_MIN, LEGEND_MAX)
}

/// Legend entries: each series (with its marked x, if any), then the
/// reference line.
fn legend_entries(chart: &LineChart) -> Vec<(String, Option<Style>)> {
    let mut entries: Vec<(String, Option<Style>)> = chart
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let marked = chart.marks.iter().find(|m| m.series == i);
            let text = match marked {
                Some(Mark {
                    legend: Some(text), ..
                }) => format!("{} ({text})", s.name),
                Some(m) => format!("{}: {}", s.name, number(m.at.0)),
                None => s.name.clone(),
            };
            (text, Some(Style::of(i)))
        })
        .collect();
    if let Some(reference) = &chart.reference {
        entries.push((reference.label.clone(), None));
    }
    entries
}

/// The axes' ranges: the data, the reference line and the marks, with a
/// margin so nothing sits on the frame.
fn ranges(chart: &LineChart) -> ((f64, f64), (f64, f64)) {
    let points = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .chain(chart.marks.iter().map(|m| m.at));
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for (x, y) in points {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    if !x0.is_finite() {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if let Some(r) = &chart.reference {
        (y0, y1) = (y0.min(r.y), y1.max(r.y));
    }
    let pad = |lo: f64, hi: f64| {
        let span = if hi > lo { hi - lo } else { hi.abs().max(1.0) };
        (lo - span * 0.04, hi + span * 0.06)
    };
    let y = if chart.y_from_zero && y0 >= 0.0 {
        (0.0, pad(0.0, y1).1)
    } else {
        pad(y0, y1)
    };
    (pad(x0, x1), y)
}

fn draw_plot(chart: &LineChart, area: &DrawingArea<SVGBackend<'_>, Shift>) {
    let ((x0, x1), (y0, y1)) = ranges(chart);
    let mut context = ChartBuilder::on(area)
        .caption(&chart.title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, y0..y1)
        .expect("drawing to memory");
    context
        .configure_mesh()
        .x_desc(chart.x_label.as_str())
        .y_desc(chart.y_label.as_str())
        .label_style(("sans-serif", FONT))
        .axis_desc_style(("sans-serif", FONT + 1))
        .x_labels(8)
        .y_labels(8)
        .x_label_formatter(&|v| number(*v))
        .y_label_formatter(&|v| number(*v))
        .bold_line_style(RGBColor(0xE0, 0xE0, 0xE0))
        .light_line_style(WHITE)
        .draw()
        .expect("drawing to memory");
    if let Some(r) = &chart.reference {
        context
            .draw_series(DashedLineSeries::new(
                [(x0, r.y), (x1, r.y)],
                6,
                4,
                GREY.stroke_width(1),
            ))
            .expect("drawing to memory");
    }
    for (i, series) in chart.series.iter().enumerate() {
        let style = Style::of(i);
        let line = style.colour.stroke_width(2);
        if chart.markers_only {
            // No line: the markers below are the series.
        } else {
            match style.dash {
                None => context.draw_series(LineSeries::new(series.points.iter().copied(), line)),
                Some((dash, gap)) => context.draw_series(DashedLineSeries::new(
                    series.points.iter().copied(),
                    dash,
                    gap,
                    line,
                )),
            }
            .expect("drawing to memory");
        }
        // Markers on at most about 40 points of a series.
        let every = series.points.len().div_ceil(MAX_MARKERS).max(1);
        let points = series.points.iter().copied().step_by(every);
        let filled = style.colour.filled();
        match style.marker {
            Marker::Circle => context.draw_series(points.map(|p| Circle::new(p, 4, filled))),
            Marker::Triangle => {
                context.draw_series(points.map(|p| TriangleMarker::new(p, 5, filled)))
            }
            Marker::Square => context.draw_series(
                points.map(|p| EmptyElement::at(p) + Rectangle::new([(-4, -4), (4, 4)], filled)),
            ),
            Marker::Cross => {
                context.draw_series(points.map(|p| Cross::new(p, 4, style.colour.stroke_width(2))))
            }
        }
        .expect("drawing to memory");
    }
    for mark in &chart.marks {
        let style = Style::of(mark.series);
        let (x, y) = mark.at;
        context
            .draw_series(DashedLineSeries::new(
                [(x, y0), (x, y)],
                2,
                3,
                style.colour.stroke_width(1),
            ))
            .expect("drawing to memory");
        context
            .draw_series(std::iter::once(Circle::new(
                (x, y),
                8,
                style.colour.stroke_width(2),
            )))
            .expect("drawing to memory");
    }
    // The marked x values, written once each just above the x axis; a
    // value close to the one before goes a line higher.
    let mut xs: Vec<f64> = chart.marks.iter().map(|m| m.at.0).collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    let mut row = 0;
    for (i, &x) in xs.iter().enumerate() {
        let close = i > 0 && (x - xs[i - 1]) < (x1 - x0) * 0.04;
        row = if close { row + 1 } else { 0 };
        context
            .draw_series(std::iter::once(
                EmptyElement::at((x, y0))
                    + Text::new(number(x), (3, -16 - 14 * row), ("sans-serif", FONT)),
            ))
            .expect("drawing to memory");
    }
}

fn draw_legend(chart: &LineChart, area: &DrawingArea<SVGBackend<'_>, Shift>) {
    let font = ("sans-serif", FONT).into_font().color(&BLACK);
    for (row, (text, style)) in legend_entries(chart).into_iter().enumerate() {
        let y = 52 + 20 * row as i32;
        let (colour, dash, marker) = match style {
            Some(s) => (s.colour, s.dash, Some(s)),
            None => (GREY, Some((6, 4)), None),
        };
        let line = colour.stroke_width(2);
        let sample = [(6, y), (40, y)];
        // A scatter's series are markers alone; a reference stays a line.
        if !(chart.markers_only && style.is_some()) {
            let drawn = match dash {
                None => area.draw(&PathElement::new(sample, line)),
                Some((d, g)) => area.draw(&DashedPathElement::new(sample, d, g, line)),
            };
            drawn.expect("drawing to memory");
        }
        if let Some(style) = marker {
            let size = 4;
            let at = (23, y);
            let filled = style.colour.filled();
            match style.marker {
                Marker::Circle => area.draw(&Circle::new(at, size, filled)),
                Marker::Triangle => area.draw(&TriangleMarker::new(at, size + 1, filled)),
                Marker::Square => area.draw(&Rectangle::new(
                    [(at.0 - size, at.1 - size), (at.0 + size, at.1 + size)],
                    filled,
                )),
                Marker::Cross => area.draw(&Cross::new(at, size, style.colour.stroke_width(2))),
            }
            .expect("drawing to memory");
        }
        area.draw(&Text::new(text, (48, y - 7), font.clone()))
            .expect("drawing to memory");
    }
}

/// A tick or mark label: no trailing zeros.
fn number(v: f64) -> String {
    let text = format!("{v:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_series() -> LineChart {
        LineChart {
            title: "GPUs <needed>".into(),
            x_label: "GPUs".into(),
            y_label: "fit rate".into(),
            series: vec![
                Series {
                    name: "MI300X SPX/NPS1 frag-aware fp16 & more".into(),
                    points: vec![(40.0, 0.9), (48.0, 0.95), (56.0, 1.0)],
                },
                Series {
                    name: "same results".into(),
                    points: vec![(40.0, 0.9), (48.0, 0.95), (56.0, 1.0)],
                },
            ],
            reference: Some(Reference {
                y: 1.0,
                label: "target fit 1".into(),
            }),
            marks: vec![Mark {
                series: 0,
                at: (56.0, 1.0),
                legend: None,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn a_chart_escapes_text_names_the_target_and_marks_the_answer() {
        let svg = two_series().render();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("GPUs &lt;needed&gt;"), "title escaped");
        assert!(
            svg.contains("fp16 &amp; more: 56\n"),
            "the answer is in the legend"
        );
        assert!(
            svg.contains("\ntarget fit 1\n"),
            "the target is in the legend"
        );
        // Identical series differ in dash: the second is drawn in pieces.
        assert!(svg.matches("<polyline").count() > 2);
    }

    #[test]
    fn the_legend_panel_grows_with_its_longest_label() {
        let short = two_series();
        let mut long = two_series();
        long.series[1].name = "x".repeat(60);
        assert!(legend_width(&long) > legend_width(&short));
        let width = |svg: String| {
            let start = svg.find("width=\"").unwrap() + 7;
            svg[start..]
                .split('"')
                .next()
                .unwrap()
                .parse::<u32>()
                .unwrap()
        };
        assert_eq!(width(long.render()), PLOT_WIDTH + legend_width(&long));
    }

    #[test]
    fn a_target_at_the_top_of_the_data_stays_inside_the_plot() {
        let (_, (_, y1)) = ranges(&two_series());
        assert!(y1 > 1.0, "{y1}");
    }

    #[test]
    fn same_chart_same_bytes() {
        assert_eq!(two_series().render(), two_series().render());
    }
}
