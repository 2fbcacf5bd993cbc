//! Charts drawn on the server: figures in, SVG out, no script. A chart is bars (counts) or lines
//! (several series told apart by colour, dash and a legend), over a y axis scaled to round numbers and
//! an x axis labelled at a few evenly spaced points. Each is an image for assistive technology, named
//! by its `<title>` and described by a text summary beside it.

use maud::{Markup, html};

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 32.0;
/// How many labels the x axis has at most.
const X_LABELS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bars,
    Lines,
}

/// One named row of values, one per point; `None` where there is nothing to show (a gap in a line).
pub struct Series<'a> {
    pub name: &'a str,
    pub values: Vec<Option<f64>>,
}

pub struct Chart<'a> {
    /// Unique on the page: the title's and summary's ids are made from it.
    pub id: &'a str,
    pub title: &'a str,
    pub kind: Kind,
    /// Counts: the y axis steps by whole numbers.
    pub whole: bool,
    /// One short label per point ("14:00", "3 Dec"), or a blank for a point the axis need not name.
    pub labels: &'a [String],
    pub series: Vec<Series<'a>>,
    /// What the chart says, in words, for those who cannot see it.
    pub summary: String,
    /// Shown instead of the plot when no value is above zero.
    pub empty: &'a str,
}

/// The chart as a figure: a heading, a legend when it has several series, the SVG and its summary.
pub fn render(chart: &Chart) -> Markup {
    let title_id = format!("{}-title", chart.id);
    let summary_id = format!("{}-summary", chart.id);
    let points = chart.labels.len();
    let max = chart.series.iter().flat_map(|s| s.values.iter().flatten()).fold(0.0_f64, |m, v| m.max(*v));
    let scale = (max > 0.0 && points > 0).then(|| Scale::new(max, chart.whole));
    html! {
        figure.chart-figure {
            figcaption {
                h3 { (chart.title) }
                @if chart.series.len() > 1 {
                    ul.legend {
                        @for (i, series) in chart.series.iter().enumerate() {
                            li { span class={ "swatch s" (i) } {} (series.name) }
                        }
                    }
                }
            }
            svg.chart xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img"
                aria-labelledby=(title_id) aria-describedby=(summary_id) {
                title #(title_id) { (chart.title) }
                @match &scale {
                    None => {
                        (frame())
                        text.empty x=(LEFT + plot_width() / 2.0) y=(TOP + plot_height() / 2.0) text-anchor="middle" { (chart.empty) }
                    }
                    Some(scale) => {
                        (y_axis(scale))
                        @match chart.kind {
                            Kind::Bars => (bars(&chart.series, points, scale)),
                            Kind::Lines => (lines(&chart.series, points, scale)),
                        }
                        (frame())
                        (x_axis(chart.labels))
                    }
                }
            }
            p.chart-summary #(summary_id) { (if scale.is_some() { chart.summary.as_str() } else { chart.empty }) }
        }
    }
}

fn plot_width() -> f64 {
    WIDTH - LEFT - RIGHT
}

fn plot_height() -> f64 {
    HEIGHT - TOP - BOTTOM
}

/// The y axis: from zero to a round number at or above the largest value, in two to five round steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    pub top: f64,
    pub step: f64,
}

impl Scale {
    pub fn new(max: f64, whole: bool) -> Scale {
        let mut step = nice_step(max / 5.0);
        if whole {
            step = step.max(1.0);
        }
        let top = ((max / step).ceil() * step).max(step);
        Scale { top, step }
    }

    /// The y coordinate of `value`.
    fn y(&self, value: f64) -> f64 {
        TOP + plot_height() * (1.0 - (value / self.top).clamp(0.0, 1.0))
    }

    fn ticks(&self) -> impl Iterator<Item = f64> + '_ {
        let count = (self.top / self.step).round() as usize;
        (0..=count).map(|i| i as f64 * self.step)
    }
}

/// The smallest of 1, 2 and 5 times a power of ten at or above `raw`.
fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let base = 10f64.powf(raw.log10().floor());
    let fraction = raw / base;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * base
}

/// A number as an axis shows it: `950`, `1.5k`, `2M`, `0.25`.
pub fn short_number(value: f64) -> String {
    let trim = |text: String| {
        if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_owned() } else { text }
    };
    let magnitude = value.abs();
    if magnitude >= 1e6 {
        format!("{}M", trim(format!("{:.1}", value / 1e6)))
    } else if magnitude >= 1e3 {
        format!("{}k", trim(format!("{:.1}", value / 1e3)))
    } else if magnitude >= 10.0 || value == value.round() {
        format!("{}", value.round())
    } else {
        trim(format!("{value:.2}"))
    }
}

fn frame() -> Markup {
    let (bottom, right) = (TOP + plot_height(), LEFT + plot_width());
    html! {
        path.axis d={ "M" (LEFT) " " (TOP) "V" (bottom) "H" (right) } {}
    }
}

fn y_axis(scale: &Scale) -> Markup {
    html! {
        @for tick in scale.ticks() {
            @let y = round(scale.y(tick));
            line.grid x1=(LEFT) x2=(LEFT + plot_width()) y1=(y) y2=(y) {}
            text.tick x=(LEFT - 6.0) y=(round(y + 4.0)) text-anchor="end" { (short_number(tick)) }
        }
    }
}

/// The x position of the centre of point `i` of `points`.
fn x_of(i: usize, points: usize) -> f64 {
    let slot = plot_width() / points as f64;
    LEFT + slot * (i as f64 + 0.5)
}

/// Which points get a label: those with one (a blank label marks a point not worth labelling, such as
/// an hour that does not start a day), at most `X_LABELS` of them, evenly spaced, the first always.
pub fn labelled(labels: &[String]) -> Vec<usize> {
    let candidates: Vec<usize> = (0..labels.len()).filter(|&i| !labels[i].is_empty()).collect();
    let every = candidates.len().div_ceil(X_LABELS).max(1);
    candidates.into_iter().step_by(every).collect()
}

fn x_axis(labels: &[String]) -> Markup {
    let y = TOP + plot_height() + 20.0;
    html! {
        @for i in labelled(labels) {
            text.tick x=(round(x_of(i, labels.len()))) y=(y) text-anchor="middle" { (labels[i]) }
        }
    }
}

fn bars(series: &[Series], points: usize, scale: &Scale) -> Markup {
    let slot = plot_width() / points as f64;
    let group = slot * 0.8;
    let width = group / series.len().max(1) as f64;
    html! {
        @for (s, one) in series.iter().enumerate() {
            @for (i, value) in one.values.iter().enumerate().take(points) {
                @if let Some(value) = value.filter(|v| *v > 0.0) {
                    @let y = scale.y(value);
                    rect class={ "bar s" (s) } x=(round(x_of(i, points) - group / 2.0 + width * s as f64)) y=(round(y))
                        width=(round(width.max(0.5))) height=(round(TOP + plot_height() - y)) {}
                }
            }
        }
    }
}

fn lines(series: &[Series], points: usize, scale: &Scale) -> Markup {
    html! {
        @for (s, one) in series.iter().enumerate() {
            @let (path, lone) = line_path(&one.values[..one.values.len().min(points)], points, scale);
            path class={ "line s" (s) } d=(path) {}
            @for (x, y) in lone {
                circle class={ "dot s" (s) } cx=(round(x)) cy=(round(y)) r="2.5" {}
            }
        }
    }
}

/// The path through a series' values, broken where a value is missing, and the points that stand
/// alone (no neighbour to draw a line to), which are drawn as dots.
fn line_path(values: &[Option<f64>], points: usize, scale: &Scale) -> (String, Vec<(f64, f64)>) {
    let mut path = String::new();
    let mut lone = Vec::new();
    for (i, value) in values.iter().enumerate() {
        let Some(value) = value else { continue };
        let (x, y) = (x_of(i, points), scale.y(*value));
        let joined = i > 0 && values[i - 1].is_some();
        path.push_str(&format!("{}{} {}", if joined { "L" } else { "M" }, round(x), round(y)));
        let followed = values.get(i + 1).is_some_and(Option::is_some);
        if !joined && !followed {
            lone.push((x, y));
        }
    }
    (path, lone)
}

/// Coordinates to a tenth of a pixel: enough for the eye, and short.
fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart<'a>(labels: &'a [String], series: Vec<Series<'a>>, kind: Kind) -> Chart<'a> {
        Chart {
            id: "c",
            title: "Requests per hour",
            kind,
            whole: true,
            labels,
            series,
            summary: "12 requests".into(),
            empty: "No requests in this period",
        }
    }

    fn labels(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{i:02}:00")).collect()
    }

    #[test]
    fn scales_end_on_a_round_number_above_the_largest_value() {
        let close = |got: Scale, top: f64, step: f64| {
            assert!((got.top - top).abs() < 1e-9 && (got.step - step).abs() < 1e-9, "{got:?}, want {top} by {step}");
        };
        close(Scale::new(7.0, true), 8.0, 2.0);
        close(Scale::new(1.0, true), 1.0, 1.0);
        close(Scale::new(1.0, false), 1.0, 0.2);
        close(Scale::new(930.0, true), 1000.0, 200.0);
        close(Scale::new(0.3, false), 0.3, 0.1);
        close(Scale::new(42.0, true), 50.0, 10.0);
        for max in [0.07, 3.0, 11.0, 99.0, 101.0, 12_345.0] {
            let scale = Scale::new(max, false);
            let intervals = scale.ticks().count() - 1;
            assert!(scale.top >= max && (2..=5).contains(&intervals), "{max}: {scale:?}");
        }
        let scale = Scale::new(42.0, true);
        assert_eq!(scale.y(0.0), TOP + plot_height());
        assert_eq!(scale.y(scale.top), TOP);
        assert_eq!(scale.y(scale.top * 2.0), TOP, "clamped to the plot");
    }

    #[test]
    fn numbers_are_short_on_the_axis() {
        assert_eq!(short_number(0.0), "0");
        assert_eq!(short_number(950.0), "950");
        assert_eq!(short_number(1500.0), "1.5k");
        assert_eq!(short_number(2_000_000.0), "2M");
        assert_eq!(short_number(0.25), "0.25");
        assert_eq!(short_number(12.4), "12");
    }

    #[test]
    fn a_few_evenly_spaced_points_are_labelled() {
        assert_eq!(labelled(&[]), Vec::<usize>::new());
        assert_eq!(labelled(&labels(3)), [0, 1, 2]);
        assert_eq!(labelled(&labels(24)), [0, 3, 6, 9, 12, 15, 18, 21]);
        assert_eq!(labelled(&labels(30)), [0, 4, 8, 12, 16, 20, 24, 28]);
        // A week of hours, named at the start of each day only.
        let days: Vec<String> =
            (0..168).map(|h| if h % 24 == 5 { format!("day {}", h / 24) } else { String::new() }).collect();
        assert_eq!(labelled(&days), [5, 29, 53, 77, 101, 125, 149]);
        assert!(labelled(&labels(168)).len() <= X_LABELS);
    }

    #[test]
    fn bars_are_drawn_for_values_above_zero_with_axes_and_labels() {
        let labels = labels(4);
        let svg = render(&chart(
            &labels,
            vec![Series { name: "Requests", values: vec![Some(0.0), Some(3.0), None, Some(6.0)] }],
            Kind::Bars,
        ))
        .into_string();
        assert!(svg.contains(r#"<svg class="chart""#) && svg.contains(r#"role="img""#), "{svg}");
        assert!(svg.contains(r#"<title id="c-title">Requests per hour</title>"#), "{svg}");
        assert!(svg.contains(r#"aria-describedby="c-summary""#) && svg.contains(r#"id="c-summary""#));
        assert_eq!(svg.matches("<rect").count(), 2, "{svg}");
        // The tallest bar reaches the top of the scale (6 of 6).
        assert!(svg.contains(&format!(r#"y="{TOP}""#)), "{svg}");
        assert!(svg.contains(">00:00</text>") && svg.contains(">03:00</text>"), "{svg}");
        assert!(svg.contains("<path class=\"axis\""), "{svg}");
        assert!(svg.contains(">6</text>"), "the y axis is labelled: {svg}");
        assert!(!svg.contains("No requests"), "{svg}");
        assert!(!svg.contains("legend"), "one series needs no legend");
    }

    #[test]
    fn lines_break_at_gaps_and_lone_points_are_dots() {
        let labels = labels(5);
        let svg = render(&chart(
            &labels,
            vec![
                Series { name: "Average", values: vec![Some(1.0), Some(2.0), None, Some(4.0), None] },
                Series { name: "Slowest", values: vec![Some(2.0), Some(3.0), None, Some(8.0), None] },
            ],
            Kind::Lines,
        ))
        .into_string();
        assert_eq!(svg.matches(r#"class="line s0""#).count(), 1);
        assert_eq!(svg.matches(r#"class="dot s1""#).count(), 1, "point 3 stands alone: {svg}");
        let path = svg.split(r#"class="line s0" d=""#).nth(1).unwrap().split('"').next().unwrap();
        assert_eq!(path.matches('M').count(), 2, "{path}");
        assert_eq!(path.matches('L').count(), 1, "{path}");
        assert!(svg.contains("Average") && svg.contains("Slowest") && svg.contains("legend"), "{svg}");
    }

    #[test]
    fn an_empty_chart_says_so() {
        let labels = labels(24);
        for values in [vec![Some(0.0); 24], vec![None; 24]] {
            let svg = render(&chart(&labels, vec![Series { name: "Requests", values }], Kind::Bars)).into_string();
            assert_eq!(svg.matches("No requests in this period").count(), 2, "in the image and beside it: {svg}");
            assert!(!svg.contains("<rect"), "{svg}");
        }
        let svg = render(&chart(&[], vec![], Kind::Lines)).into_string();
        assert!(svg.contains("No requests in this period"));
    }

    #[test]
    fn text_is_escaped() {
        let labels = vec!["<b>".to_owned()];
        let mut c = chart(&labels, vec![Series { name: "<i>x</i>", values: vec![Some(1.0)] }], Kind::Lines);
        c.title = "A & <script>alert(1)</script>";
        c.summary = "\"quoted\" <tag>".into();
        c.series.push(Series { name: "y\"><svg onload=x>", values: vec![Some(2.0)] });
        let svg = render(&c).into_string();
        for raw in ["<script>", "<b>", "<i>", "<tag>", "<svg onload"] {
            assert!(!svg.contains(raw), "{raw} in {svg}");
        }
        assert!(svg.contains("A &amp; &lt;script&gt;"), "{svg}");
    }
}
