//! Inline SVG charts for the dashboard: linear scales with round ticks,
//! horizontal bars (funnels), intervals with error bars (lift), daily bars
//! (stacked or not) and lines with threshold rules. Every chart is an
//! `<svg role="img">` whose `<title>` and `<desc>` say what it shows; the
//! pages put a data table beside each. Pure string building: no script,
//! nothing fetched.

use std::fmt::Write as _;

/// Colours with at least 4.5:1 contrast on white, told apart by people
/// with the common colour-vision deficiencies (after Okabe and Ito).
pub const PALETTE: [&str; 6] = ["#0b5cad", "#a64d00", "#1b7f3b", "#7b3fa0", "#b3261e", "#4d4d4d"];

/// Text and axis colour.
const INK: &str = "#1a1a1a";
/// Grid lines.
const GRID: &str = "#d0d0d0";

/// A linear map from a domain of values to a range of pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    d0: f64,
    d1: f64,
    r0: f64,
    r1: f64,
}

impl Scale {
    /// Maps `domain.0` to `range.0` and `domain.1` to `range.1`.
    pub fn new(domain: (f64, f64), range: (f64, f64)) -> Scale {
        Scale { d0: domain.0, d1: domain.1, r0: range.0, r1: range.1 }
    }

    /// The pixel of a value; an empty domain maps everything to the
    /// middle of the range, a value that is not finite to the domain's start.
    pub fn map(&self, v: f64) -> f64 {
        let span = self.d1 - self.d0;
        if !v.is_finite() {
            return self.r0;
        }
        if span == 0.0 || !span.is_finite() {
            return (self.r0 + self.r1) / 2.0;
        }
        self.r0 + (v - self.d0) / span * (self.r1 - self.r0)
    }
}

/// The smallest of 1, 2, 5 × 10^k at or above `v` (1 for 0 or less, or
/// a value that is not finite).
pub fn nice_ceil(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|c| *c >= v * (1.0 - 1e-12)).unwrap_or(10.0 * mag)
}

/// Round ticks from 0 to at least `max`, about `n` of them: the step is
/// `nice_ceil(max / n)`.
pub fn ticks(max: f64, n: usize) -> Vec<f64> {
    // A value past any sensible axis (a saturated sum) draws a plain 0..1.
    let max = if max.is_finite() && max < 1e300 { max.max(0.0) } else { 0.0 };
    let step = nice_ceil(max / n.max(1) as f64);
    let count = ((max / step - 1e-9).ceil().max(1.0) as usize).min(MAX_TICKS);
    (0..=count).map(|i| i as f64 * step).collect()
}

/// No axis gets more ticks than this, whatever its values.
const MAX_TICKS: usize = 50;

/// Ticks spanning `low..=high` (which may be negative), stepping by
/// `nice_ceil((high - low) / n)` from a multiple of the step.
pub fn ticks_between(low: f64, high: f64, n: usize) -> Vec<f64> {
    let sane = |v: f64| if v.is_finite() { v.clamp(-1e300, 1e300) } else { 0.0 };
    let (low, high) = (sane(low), sane(high));
    let (low, high) = if low <= high { (low, high) } else { (high, low) };
    let step = nice_ceil((high - low) / n.max(1) as f64);
    let first = (low / step + 1e-9).floor() as i64;
    let last = ((high / step - 1e-9).ceil() as i64).min(first.saturating_add(MAX_TICKS as i64));
    (first..=last).map(|i| i as f64 * step).collect()
}

/// The pixel positions of an error bar: `(low, mid, high)` mapped, the
/// whisker ends sorted so `low <= high` whatever the scale's direction.
pub fn error_bar(scale: &Scale, low: f64, mid: f64, high: f64) -> (f64, f64, f64) {
    let (a, b) = (scale.map(low), scale.map(high));
    (a.min(b), scale.map(mid), a.max(b))
}

/// Escapes text for XML content and attributes.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// How a chart's numbers are written on its axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Whole counts.
    Count,
    /// Money, two decimals (millions shortened).
    Money,
    /// A share, as percent.
    Percent,
}

impl Unit {
    /// A value in this unit.
    pub fn fmt(self, v: f64) -> String {
        match self {
            Unit::Count if v.abs() >= 1e6 => format!("{:.1}M", v / 1e6),
            Unit::Count if v.abs() >= 1e4 => format!("{:.0}k", v / 1e3),
            Unit::Count => format!("{}", v.round() as i64),
            Unit::Money if v.abs() >= 1e6 => format!("{:.1}M", v / 1e6),
            Unit::Money => format!("{v:.2}"),
            Unit::Percent => {
                let p = v * 100.0;
                if p.abs() >= 10.0 || p == p.round() { format!("{p:.0}%") } else { format!("{p:.1}%") }
            }
        }
    }
}

/// The opening of a chart: size, role, title and description.
fn open(o: &mut String, id: &str, w: f64, h: f64, title: &str, desc: &str) {
    let _ = write!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" id="{id}" class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-labelledby="{id}-t {id}-d" font-family="sans-serif" font-size="12" fill="{INK}"><title id="{id}-t">{}</title><desc id="{id}-d">{}</desc>"#,
        esc(title),
        esc(desc)
    );
}

/// Horizontal bars, one per `(label, value)`, largest value full width
/// (a funnel when the items are its stages).
pub fn hbars(id: &str, title: &str, desc: &str, items: &[(String, f64)], unit: Unit) -> String {
    let (left, right, row) = (170.0, 70.0, 24.0);
    let w = 640.0;
    let h = row * items.len().max(1) as f64 + 10.0;
    let max = items.iter().map(|i| i.1).fold(0.0, f64::max);
    let x = Scale::new((0.0, if max > 0.0 { max } else { 1.0 }), (left, w - right));
    let mut o = String::new();
    open(&mut o, id, w, h, title, desc);
    for (i, (label, v)) in items.iter().enumerate() {
        let y = 5.0 + i as f64 * row;
        let width = (x.map(*v) - left).max(0.0);
        let _ = write!(
            o,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text><rect x="{left}" y="{:.1}" width="{width:.1}" height="{:.1}" fill="{}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            left - 6.0,
            y + row * 0.65,
            esc(label),
            y + 3.0,
            row - 6.0,
            PALETTE[0],
            left + width + 4.0,
            y + row * 0.65,
            esc(&unit.fmt(*v))
        );
    }
    o.push_str("</svg>");
    o
}

/// One row of an interval chart: a point with its 95% interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Interval {
    /// What the row is.
    pub label: String,
    /// The estimate.
    pub mid: f64,
    /// Lower end of the interval.
    pub low: f64,
    /// Upper end.
    pub high: f64,
}

/// Points with error bars on a horizontal axis that always includes 0
/// (drawn as a rule: an interval crossing it is not significant).
pub fn intervals(id: &str, title: &str, desc: &str, rows: &[Interval], unit: Unit) -> String {
    let (left, right, row, axis) = (170.0, 30.0, 30.0, 24.0);
    let w = 640.0;
    let h = row * rows.len().max(1) as f64 + axis + 8.0;
    let lo = rows.iter().map(|r| r.low.min(r.mid)).fold(0.0, f64::min);
    let hi = rows.iter().map(|r| r.high.max(r.mid)).fold(0.0, f64::max);
    let t = ticks_between(lo, if hi > lo { hi } else { lo + 0.01 }, 5);
    let (t0, t1) = (t.first().copied().unwrap_or(0.0), t.last().copied().unwrap_or(1.0));
    let x = Scale::new((t0, t1), (left, w - right));
    let mut o = String::new();
    open(&mut o, id, w, h, title, desc);
    let bottom = h - axis;
    for v in &t {
        let px = x.map(*v);
        let colour = if *v == 0.0 { INK } else { GRID };
        let _ = write!(
            o,
            r#"<line x1="{px:.1}" y1="4" x2="{px:.1}" y2="{bottom:.1}" stroke="{colour}"/><text x="{px:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            bottom + 16.0,
            esc(&unit.fmt(*v))
        );
    }
    for (i, r) in rows.iter().enumerate() {
        let y = 4.0 + i as f64 * row + row / 2.0;
        let (a, m, b) = error_bar(&x, r.low, r.mid, r.high);
        let c = PALETTE[i % PALETTE.len()];
        let _ = write!(
            o,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text><g class="errorbar" stroke="{c}" stroke-width="2"><line x1="{a:.1}" y1="{y:.1}" x2="{b:.1}" y2="{y:.1}"/><line x1="{a:.1}" y1="{:.1}" x2="{a:.1}" y2="{:.1}"/><line x1="{b:.1}" y1="{:.1}" x2="{b:.1}" y2="{:.1}"/></g><circle cx="{m:.1}" cy="{y:.1}" r="5" fill="{c}"/>"#,
            left - 6.0,
            y + 4.0,
            esc(&r.label),
            y - 6.0,
            y + 6.0,
            y - 6.0,
            y + 6.0,
        );
    }
    o.push_str("</svg>");
    o
}

/// One named series of a daily chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Its name (the legend).
    pub name: String,
    /// One value per day.
    pub values: Vec<f64>,
}

/// A horizontal rule across a line chart (a threshold).
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Its name.
    pub name: String,
    /// Where.
    pub value: f64,
    /// Its colour.
    pub colour: &'static str,
}

/// How a daily chart draws its series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Bars stacked per day.
    Stacked,
    /// One line per series.
    Lines,
}

/// A chart over days: `labels` name the days (every few are written on
/// the axis), each series has one value per day; `rules` are drawn
/// across (thresholds) and always fit the vertical axis.
#[allow(clippy::too_many_arguments)]
pub fn daily(
    id: &str,
    title: &str,
    desc: &str,
    labels: &[String],
    series: &[Series],
    rules: &[Rule],
    style: Style,
    unit: Unit,
) -> String {
    let (w, h, left, right, top, bottom) = (720.0, 240.0, 56.0, 12.0, 10.0, 44.0);
    let n = labels.len().max(1);
    let per_day = |d: usize| -> f64 {
        match style {
            Style::Stacked => series.iter().map(|s| s.values.get(d).copied().unwrap_or(0.0).max(0.0)).sum(),
            Style::Lines => series.iter().map(|s| s.values.get(d).copied().unwrap_or(0.0)).fold(0.0, f64::max),
        }
    };
    let max = (0..n).map(per_day).chain(rules.iter().map(|r| r.value)).fold(0.0, f64::max);
    // Counts step by whole numbers: at most one tick per unit.
    let t = if unit == Unit::Count { ticks(max, (max.ceil() as usize).clamp(1, 4)) } else { ticks(max, 4) };
    let y = Scale::new((0.0, t.last().copied().unwrap_or(1.0)), (h - bottom, top));
    let band = (w - left - right) / n as f64;
    let x = |d: usize| left + band * d as f64;
    let mut o = String::new();
    open(&mut o, id, w, h, title, desc);
    for v in &t {
        let py = y.map(*v);
        let _ = write!(
            o,
            r#"<line x1="{left}" y1="{py:.1}" x2="{}" y2="{py:.1}" stroke="{GRID}"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            w - right,
            left - 4.0,
            py + 4.0,
            esc(&unit.fmt(*v))
        );
    }
    let every = n.div_ceil(8).max(1);
    for (d, label) in labels.iter().enumerate() {
        // Every few days, counted back from the last so it is always named.
        if (n - 1 - d).is_multiple_of(every) {
            let _ = write!(
                o,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                x(d) + band / 2.0,
                h - bottom + 16.0,
                esc(label)
            );
        }
    }
    match style {
        Style::Stacked => {
            for d in 0..n {
                let mut base = 0.0;
                for (i, s) in series.iter().enumerate() {
                    let v = s.values.get(d).copied().unwrap_or(0.0).max(0.0);
                    if v > 0.0 {
                        let (y0, y1) = (y.map(base), y.map(base + v));
                        let _ = write!(
                            o,
                            r#"<rect x="{:.1}" y="{y1:.1}" width="{:.1}" height="{:.1}" fill="{}"/>"#,
                            x(d) + band * 0.1,
                            (band * 0.8).max(0.5),
                            (y0 - y1).max(0.0),
                            PALETTE[i % PALETTE.len()]
                        );
                    }
                    base += v;
                }
            }
        }
        Style::Lines => {
            for (i, s) in series.iter().enumerate() {
                let pts: Vec<String> = s
                    .values
                    .iter()
                    .take(n)
                    .enumerate()
                    .map(|(d, v)| format!("{:.1},{:.1}", x(d) + band / 2.0, y.map(*v)))
                    .collect();
                let _ = write!(
                    o,
                    r#"<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>"#,
                    PALETTE[i % PALETTE.len()],
                    pts.join(" ")
                );
            }
        }
    }
    for r in rules {
        let py = y.map(r.value);
        let _ = write!(
            o,
            r#"<line class="rule" x1="{left}" y1="{py:.1}" x2="{}" y2="{py:.1}" stroke="{}" stroke-width="1.5" stroke-dasharray="6 3"/><text x="{}" y="{:.1}" text-anchor="end" fill="{}">{}</text>"#,
            w - right,
            r.colour,
            w - right - 2.0,
            py - 3.0,
            r.colour,
            esc(&r.name)
        );
    }
    // The legend under the axis labels.
    let mut lx = left;
    for (i, s) in series.iter().enumerate() {
        let _ = write!(
            o,
            r#"<rect x="{lx:.1}" y="{:.1}" width="10" height="10" fill="{}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            h - 16.0,
            PALETTE[i % PALETTE.len()],
            lx + 14.0,
            h - 7.0,
            esc(&s.name)
        );
        lx += 24.0 + 7.0 * s.name.chars().count() as f64;
    }
    o.push_str("</svg>");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_maps_linearly_both_ways() {
        let s = Scale::new((0.0, 200.0), (50.0, 450.0));
        assert_eq!(s.map(0.0), 50.0);
        assert_eq!(s.map(200.0), 450.0);
        assert_eq!(s.map(50.0), 150.0);
        // A vertical axis runs downwards: 0 at the bottom (200 px), 10 at the top (0 px).
        let v = Scale::new((0.0, 10.0), (200.0, 0.0));
        assert_eq!(v.map(2.5), 150.0);
        assert_eq!(v.map(-5.0), 300.0);
        // Degenerate domains and bad values stay on the canvas.
        assert_eq!(Scale::new((3.0, 3.0), (0.0, 100.0)).map(3.0), 50.0);
        assert_eq!(s.map(f64::NAN), 50.0);
    }

    #[test]
    fn nice_ceil_picks_one_two_five() {
        assert_eq!(nice_ceil(0.0), 1.0);
        assert_eq!(nice_ceil(-3.0), 1.0);
        assert_eq!(nice_ceil(7.0), 10.0);
        assert_eq!(nice_ceil(10.0), 10.0);
        assert_eq!(nice_ceil(11.0), 20.0);
        assert_eq!(nice_ceil(0.03), 0.05);
        assert_eq!(nice_ceil(340.0), 500.0);
        assert_eq!(nice_ceil(1.5), 2.0);
    }

    #[test]
    fn ticks_cover_the_maximum_in_round_steps() {
        // 37 over 4 ticks: step nice_ceil(9.25) = 10, up to 40.
        assert_eq!(ticks(37.0, 4), vec![0.0, 10.0, 20.0, 30.0, 40.0]);
        assert_eq!(ticks(40.0, 4), vec![0.0, 10.0, 20.0, 30.0, 40.0]);
        assert_eq!(ticks(0.0, 4), vec![0.0, 1.0]);
        // Values no axis can hold stay bounded.
        assert_eq!(ticks(f64::INFINITY, 4), vec![0.0, 1.0]);
        assert_eq!(ticks(f64::MAX, 4), vec![0.0, 1.0]);
        assert!(ticks_between(-f64::MAX, f64::MAX, 5).len() <= MAX_TICKS + 1);
        assert!(ticks_between(f64::NAN, 0.5, 5).len() <= MAX_TICKS + 1);
        // 0.06 over 4: step nice_ceil(0.015) = 0.02 → 0, 0.02, 0.04, 0.06.
        let t = ticks(0.06, 4);
        assert_eq!(t.len(), 4);
        assert!((t[3] - 0.06).abs() < 1e-12);
        // Across zero: -0.031..0.118 over 5 → step nice_ceil(0.0298) = 0.05.
        let t = ticks_between(-0.031, 0.118, 5);
        let want = [-0.05, 0.0, 0.05, 0.1, 0.15];
        assert_eq!(t.len(), want.len());
        for (a, b) in t.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{t:?}");
        }
    }

    #[test]
    fn error_bars_map_the_interval_and_the_estimate() {
        // Axis -0.05..0.15 over 170..610 px: 2200 px per unit.
        let s = Scale::new((-0.05, 0.15), (170.0, 610.0));
        let (a, m, b) = error_bar(&s, -0.02, 0.04, 0.10);
        assert!((a - 236.0).abs() < 1e-9, "{a}");
        assert!((m - 368.0).abs() < 1e-9, "{m}");
        assert!((b - 500.0).abs() < 1e-9, "{b}");
        // A reversed (vertical) scale still gives low <= high.
        let v = Scale::new((0.0, 1.0), (100.0, 0.0));
        assert_eq!(error_bar(&v, 0.2, 0.5, 0.6), (40.0, 50.0, 80.0));
    }

    #[test]
    fn interval_chart_draws_zero_rule_and_whiskers_where_computed() {
        let rows = [Interval { label: "lift".into(), mid: 0.04, low: -0.02, high: 0.13 }];
        let svg = intervals("c", "Lift <95%>", "d", &rows, Unit::Percent);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("<title id=\"c-t\">Lift &lt;95%&gt;</title>"), "{svg}");
        // Ticks -0.05..0.15 (step 0.05) over 170..610: 0 at 280, whiskers at 236 and 566, point at 368.
        assert!(svg.contains(r#"<line x1="280.0" y1="4" x2="280.0""#), "{svg}");
        assert!(svg.contains(r#"x1="236.0" y1="19.0" x2="566.0" y2="19.0""#), "{svg}");
        assert!(svg.contains(r#"<circle cx="368.0" cy="19.0""#), "{svg}");
    }

    #[test]
    fn bars_are_proportional_and_daily_rules_fit() {
        let items = vec![("entered".to_string(), 200.0), ("sent".to_string(), 50.0)];
        let svg = hbars("f", "t", "d", &items, Unit::Count);
        // 170..570 px for 0..200: 400 px and 100 px wide.
        assert!(svg.contains(r#"width="400.0""#) && svg.contains(r#"width="100.0""#), "{svg}");
        let labels: Vec<String> = (1..=3).map(|d| format!("d{d}")).collect();
        let s = [Series { name: "rate".into(), values: vec![0.0, 0.01, 0.0] }];
        let rules = [Rule { name: "pause 5%".into(), value: 0.05, colour: PALETTE[4] }];
        let svg = daily("r", "t", "d", &labels, &s, &rules, Style::Lines, Unit::Percent);
        // Axis 0..0.05 (ticks of 0.02 up to 0.06): rule at 196 - 0.05/0.06 × 186 = 41.0.
        assert!(svg.contains(r#"class="rule" x1="56" y1="41.0""#), "{svg}");
        assert!(!svg.contains("<script"));
        // A count of 1 gets ticks 0 and 1, not 0, 0.5 (written "1") and 1.
        let one = [Series { name: "n".into(), values: vec![0.0, 1.0, 0.0] }];
        let svg = daily("n", "t", "d", &labels, &one, &[], Style::Stacked, Unit::Count);
        assert_eq!(svg.matches("text-anchor=\"end\">").count(), 2, "{svg}");
    }

    /// WCAG 2 contrast ratio of a `#rrggbb` colour against white.
    fn contrast_on_white(hex: &str) -> f64 {
        let channel = |i: usize| {
            let c = f64::from(u8::from_str_radix(&hex[i..i + 2], 16).unwrap()) / 255.0;
            if c <= 0.03928 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
        };
        let l = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
        1.05 / (l + 0.05)
    }

    #[test]
    fn every_colour_has_text_contrast_on_white() {
        // Hand-computed: #1a1a1a is 17.4:1, #1b7f3b (the lowest) 5.07:1.
        assert!((contrast_on_white(INK) - 17.4).abs() < 0.05);
        assert!((contrast_on_white("#1b7f3b") - 5.07).abs() < 0.01);
        for c in PALETTE {
            assert!(contrast_on_white(c) >= 4.5, "{c}: {:.2}", contrast_on_white(c));
        }
    }

    #[test]
    fn units_are_written_for_people() {
        assert_eq!(Unit::Percent.fmt(0.05), "5%");
        assert_eq!(Unit::Percent.fmt(0.0125), "1.2%");
        assert_eq!(Unit::Count.fmt(12_345.0), "12k");
        assert_eq!(Unit::Money.fmt(12.5), "12.50");
        assert_eq!(esc("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}
