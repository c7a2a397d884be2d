//! Inline SVG charts for the HTML report, drawn by hand: stacked columns (time series and
//! histograms), horizontal bars, and a scatter plot.
//!
//! # Contract
//! - Every chart is one `<svg>` element with a `viewBox` (it scales to its container),
//!   `role="img"` and an `aria-label`; it needs no script and no outside resource. Styling
//!   comes from the page's CSS classes (`ax`, `grid`, `lbl`, `val`, `nodata`).
//! - Every text that reaches the SVG (labels, tooltips, legends) is HTML-escaped here.
//! - Non-finite and negative counts are drawn as zero; an empty chart is a frame with a
//!   "no data" line, never a panic and never a division by zero.

use super::html::esc;
use std::fmt::Write as _;

/// The charts' width in SVG units.
const W: f64 = 640.0;

/// A series of a chart: its legend name and colour.
pub(crate) struct Series {
    /// Legend text.
    pub name: String,
    /// CSS colour.
    pub color: &'static str,
}

/// One column of a stacked-column chart: its axis label, one value per series, a tooltip.
pub(crate) struct Column {
    /// Axis label (only some are written when there are many columns).
    pub label: String,
    /// One value per series, stacked bottom-up in series order.
    pub values: Vec<f64>,
    /// Tooltip heading (the full label).
    pub tip: String,
}

/// One bar of a horizontal bar chart.
pub(crate) struct HBar {
    /// The label left of the bar.
    pub label: String,
    /// Its length.
    pub value: f64,
    /// The text right of the bar (the value, and anything to add).
    pub note: String,
    /// CSS colour.
    pub color: &'static str,
}

/// One point of a scatter plot.
pub(crate) struct Point {
    /// X (for a log axis, values below 1 are drawn at 1).
    pub x: f64,
    /// Y.
    pub y: f64,
    /// Index into the series (its colour).
    pub series: usize,
    /// Tooltip.
    pub tip: String,
}

/// `v` as a count: finite and non-negative, else 0.
fn count(v: f64) -> f64 {
    if v.is_finite() && v > 0.0 { v } else { 0.0 }
}

/// A number for an SVG attribute: one decimal, no `NaN`.
fn n(v: f64) -> String {
    if v.is_finite() { format!("{v:.1}") } else { "0".to_string() }
}

/// A step of 1, 2 or 5 × 10^k giving about `ticks` ticks up to `max` (≥ 1 when `integer`).
pub(crate) fn nice_step(max: f64, ticks: f64, integer: bool) -> f64 {
    let raw = if max.is_finite() && max > 0.0 { max / ticks.max(1.0) } else { 1.0 };
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let step = mag
        * if norm <= 1.0 {
            1.0
        } else if norm <= 2.0 {
            2.0
        } else if norm <= 5.0 {
            5.0
        } else {
            10.0
        };
    if integer { step.max(1.0).round() } else { step }
}

/// A tick value as text: integers without decimals, else up to two decimals.
pub(crate) fn tick_text(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// `s` cut to `max` characters, with an ellipsis when cut.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Opens an `<svg>` of height `h`.
fn open(out: &mut String, aria: &str, h: f64) {
    let _ = write!(
        out,
        r#"<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{a}" xmlns="http://www.w3.org/2000/svg">"#,
        w = n(W),
        h = n(h),
        a = esc(aria)
    );
}

/// A frame with a "no data" line.
pub(crate) fn no_data(aria: &str, text: &str) -> String {
    let mut out = String::new();
    open(&mut out, aria, 90.0);
    let _ = write!(
        out,
        r#"<rect x="0.5" y="0.5" width="{}" height="89" class="frame"/><text x="{}" y="50" class="nodata" text-anchor="middle">{}</text></svg>"#,
        n(W - 1.0),
        n(W / 2.0),
        esc(text)
    );
    out
}

/// The legend, one row at the top right.
fn legend(out: &mut String, series: &[Series], y: f64) {
    let mut x = W - 8.0;
    // Right to left, so the last series ends at the right edge.
    for s in series.iter().rev() {
        let label = cut(&s.name, 24);
        // Wide enough for the widest common sans-serif fonts (DejaVu Sans at 11 px).
        let w = 7.8 * label.chars().count() as f64 + 26.0;
        x -= w;
        let _ = write!(
            out,
            r#"<rect x="{}" y="{}" width="10" height="10" rx="2" fill="{}"/><text x="{}" y="{}" class="lbl">{}</text>"#,
            n(x),
            n(y - 9.0),
            s.color,
            n(x + 14.0),
            n(y),
            esc(&label)
        );
    }
}

/// Horizontal grid lines, each with its value at the left, from 0 up to `top_value` every
/// `step`, across the plot between `left` and `W - right`; `y` places a value.
fn y_grid(out: &mut String, (left, right): (f64, f64), top_value: f64, step: f64, y: impl Fn(f64) -> f64) {
    let mut t = 0.0;
    while t <= top_value + 1e-9 {
        let _ = write!(
            out,
            r#"<line x1="{l}" x2="{r}" y1="{y}" y2="{y}" class="grid"/><text x="{tx}" y="{ty}" class="lbl" text-anchor="end">{v}</text>"#,
            l = n(left),
            r = n(W - right),
            y = n(y(t)),
            tx = n(left - 6.0),
            ty = n(y(t) + 4.0),
            v = tick_text(t)
        );
        t += step;
    }
}

/// One vertical grid line at `x` from `top` to `bottom`, with `label` under the plot.
fn x_grid_line(out: &mut String, x: f64, (top, bottom): (f64, f64), label: &str) {
    let _ = write!(
        out,
        r#"<line x1="{x}" x2="{x}" y1="{t0}" y2="{b}" class="grid"/><text x="{x}" y="{ly}" class="lbl" text-anchor="middle">{label}</text>"#,
        x = n(x),
        t0 = n(top),
        b = n(bottom),
        ly = n(bottom + 16.0)
    );
}

/// The y axis title, written upwards at the left, centred on `mid`.
fn y_axis_title(out: &mut String, mid: f64, title: &str) {
    let _ = write!(
        out,
        r#"<text x="12" y="{}" class="lbl" transform="rotate(-90 12 {})" text-anchor="middle">{}</text>"#,
        n(mid),
        n(mid),
        esc(title)
    );
}

/// A stacked-column chart (a time series or a histogram). `y_title` names the count.
pub(crate) fn columns(aria: &str, series: &[Series], cols: &[Column], y_title: &str) -> String {
    columns_with(aria, series, cols, y_title, None)
}

/// A histogram: stacked columns whose labels are the bins' lower edges, written at the
/// edges, with `end` (the last bin's upper edge) at the right end.
pub(crate) fn histogram(aria: &str, series: &[Series], cols: &[Column], y_title: &str, end: &str) -> String {
    columns_with(aria, series, cols, y_title, Some(end))
}

/// Stacked columns, labels centred under the columns or (`edges`) at their left edges.
fn columns_with(aria: &str, series: &[Series], cols: &[Column], y_title: &str, edges: Option<&str>) -> String {
    if cols.is_empty() {
        return no_data(aria, "no data");
    }
    let (h, left, right, top, bottom) = (270.0, 46.0, 10.0, 30.0, 58.0);
    let plot_w = W - left - right;
    let plot_h = h - top - bottom;
    let totals: Vec<f64> = cols.iter().map(|c| c.values.iter().copied().map(count).sum()).collect();
    let max = totals.iter().copied().fold(0.0, f64::max);
    let step = nice_step(max, 5.0, true);
    let top_value = if max > 0.0 { (max / step).ceil() * step } else { step };
    let y = |v: f64| top + plot_h - plot_h * v / top_value;
    let mut out = String::new();
    open(&mut out, aria, h);
    if series.len() > 1 {
        legend(&mut out, series, 14.0);
    }
    // Grid and y ticks.
    y_grid(&mut out, (left, right), top_value, step, y);
    y_axis_title(&mut out, top + plot_h / 2.0, y_title);
    let slot = plot_w / cols.len() as f64;
    let gap = if slot > 6.0 { (slot * 0.18).min(8.0) } else { 0.5 };
    let longest = cols.iter().map(|c| cut(&c.label, 16).chars().count()).max().unwrap_or(0);
    let width = 7.0 * longest as f64 + 8.0;
    // Short labels are written level, every one that fits (at most every third column);
    // longer ones are slanted, about 14 of them.
    let level_every = (width / slot).ceil().max(1.0) as usize;
    let level = level_every <= 3;
    let label_every = if level { level_every } else { cols.len().div_ceil(14).max(1) };
    for (i, c) in cols.iter().enumerate() {
        let x = left + slot * i as f64 + gap / 2.0;
        let bw = (slot - gap).max(0.5);
        let mut base = 0.0;
        let mut tip = esc(&c.tip);
        for (s, v) in series.iter().zip(&c.values) {
            if count(*v) > 0.0 {
                let _ = write!(tip, "\n{}: {}", esc(&s.name), tick_text(count(*v)));
            }
        }
        let _ = write!(out, "<g><title>{tip}</title>");
        for (s, v) in series.iter().zip(&c.values) {
            let v = count(*v);
            if v > 0.0 {
                let (y0, y1) = (y(base + v), y(base));
                let _ = write!(
                    out,
                    r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>"#,
                    n(x),
                    n(y0),
                    n(bw),
                    n((y1 - y0).max(0.5)),
                    s.color
                );
                base += v;
            }
        }
        out.push_str("</g>");
        if !i.is_multiple_of(label_every) {
            continue;
        }
        if level {
            let lx = if edges.is_some() { left + slot * i as f64 } else { x + bw / 2.0 };
            let _ = write!(
                out,
                r#"<text x="{}" y="{}" class="lbl" text-anchor="middle">{}</text>"#,
                n(lx),
                n(top + plot_h + 16.0),
                esc(&c.label)
            );
        } else {
            let lx = if edges.is_some() { left + slot * i as f64 } else { x + bw / 2.0 };
            let ly = top + plot_h + 12.0;
            let _ = write!(
                out,
                r#"<text x="{lx}" y="{ly}" class="lbl" text-anchor="end" transform="rotate(-35 {lx} {ly})">{}</text>"#,
                esc(&cut(&c.label, 16)),
                lx = n(lx),
                ly = n(ly)
            );
        }
    }
    if let Some(end) = edges
        && cols.len().is_multiple_of(label_every)
    {
        let _ = write!(
            out,
            r#"<text x="{}" y="{}" class="lbl" text-anchor="middle">{}</text>"#,
            n(W - right),
            n(top + plot_h + 16.0),
            esc(end)
        );
    }
    let _ = write!(
        out,
        r#"<line x1="{l}" x2="{r}" y1="{b}" y2="{b}" class="ax"/></svg>"#,
        l = n(left),
        r = n(W - right),
        b = n(top + plot_h)
    );
    out
}

/// A horizontal bar chart, bars in the order given.
pub(crate) fn hbars(aria: &str, bars: &[HBar]) -> String {
    if bars.is_empty() {
        return no_data(aria, "no data");
    }
    let (left, right, top, row) = (150.0, 120.0, 8.0, 24.0);
    let h = top * 2.0 + row * bars.len() as f64;
    let max = bars.iter().map(|b| count(b.value)).fold(0.0, f64::max);
    let plot_w = W - left - right;
    let mut out = String::new();
    open(&mut out, aria, h);
    for (i, b) in bars.iter().enumerate() {
        let y = top + row * i as f64;
        let len = if max > 0.0 { plot_w * count(b.value) / max } else { 0.0 };
        let _ = write!(
            out,
            r#"<g><title>{t}: {note}</title><text x="{lx}" y="{ty}" class="lbl" text-anchor="end">{label}</text><rect x="{x}" y="{y}" width="{w}" height="{bh}" rx="2" fill="{c}"/><text x="{vx}" y="{ty}" class="val">{note}</text></g>"#,
            t = esc(&b.label),
            note = esc(&b.note),
            lx = n(left - 8.0),
            ty = n(y + row / 2.0 + 4.0),
            label = esc(&cut(&b.label, 22)),
            x = n(left),
            y = n(y + 4.0),
            w = n(len.max(1.0)),
            bh = n(row - 8.0),
            c = b.color,
            vx = n(left + len.max(1.0) + 6.0)
        );
    }
    let _ = write!(
        out,
        r#"<line x1="{l}" x2="{l}" y1="{t}" y2="{b}" class="ax"/></svg>"#,
        l = n(left),
        t = n(top),
        b = n(h - top)
    );
    out
}

/// A scatter plot; `x_log` draws x on a log10 axis (values below 1 at 1).
pub(crate) fn scatter(
    aria: &str,
    series: &[Series],
    points: &[Point],
    x_title: &str,
    y_title: &str,
    x_log: bool,
) -> String {
    let pts: Vec<&Point> = points.iter().filter(|p| p.x.is_finite() && p.y.is_finite()).collect();
    if pts.is_empty() {
        return no_data(aria, "no data");
    }
    let (h, left, right, top, bottom) = (290.0, 52.0, 28.0, 30.0, 44.0);
    let plot_w = W - left - right;
    let plot_h = h - top - bottom;
    // X domain.
    let xs: Vec<f64> = pts.iter().map(|p| if x_log { p.x.max(1.0).log10() } else { p.x.max(0.0) }).collect();
    let x_max_raw = xs.iter().copied().fold(0.0, f64::max);
    let x_min_raw = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let (x_lo, x_hi, x_step) = if x_log {
        let lo = x_min_raw.floor().max(0.0);
        (lo, x_max_raw.ceil().max(lo + 1.0), 1.0)
    } else {
        let s = nice_step(x_max_raw, 6.0, false);
        (0.0, ((x_max_raw / s).ceil() * s).max(s), s)
    };
    // Some headroom above the highest point, so it is not drawn on the frame.
    let y_max_raw = pts.iter().map(|p| p.y.max(0.0)).fold(0.0, f64::max) * 1.05;
    let y_step = nice_step(y_max_raw, 5.0, false);
    let y_hi = ((y_max_raw / y_step).ceil() * y_step).max(y_step);
    let px = |v: f64| left + plot_w * (v - x_lo) / (x_hi - x_lo);
    let py = |v: f64| top + plot_h - plot_h * v / y_hi;
    let mut out = String::new();
    open(&mut out, aria, h);
    if !series.is_empty() {
        legend(&mut out, series, 14.0);
    }
    y_grid(&mut out, (left, right), y_hi, y_step, py);
    let mut t = x_lo;
    while t <= x_hi + 1e-9 {
        let label = if x_log { tick_text(10f64.powf(t)) } else { tick_text(t) };
        x_grid_line(&mut out, px(t), (top, top + plot_h), &label);
        // On a log axis of few decades, 2× and 5× lines (labelled) help to read the values.
        if x_log && x_hi - x_lo <= 2.0 + 1e-9 && t + 1.0 <= x_hi + 1e-9 {
            for m in [2.0f64, 5.0] {
                let v = t + m.log10();
                x_grid_line(&mut out, px(v), (top, top + plot_h), &tick_text(10f64.powf(v).round()));
            }
        }
        t += x_step;
    }
    let _ = write!(
        out,
        r#"<text x="{}" y="{}" class="lbl" text-anchor="middle">{}</text>"#,
        n(left + plot_w / 2.0),
        n(h - 6.0),
        esc(x_title)
    );
    y_axis_title(&mut out, top + plot_h / 2.0, y_title);
    for (p, x) in pts.iter().zip(&xs) {
        let color = series.get(p.series).map(|s| s.color).unwrap_or("#737373");
        let _ = write!(
            out,
            r##"<circle cx="{}" cy="{}" r="4.5" fill="{}" fill-opacity="0.75" stroke="#fff" stroke-width="0.8"><title>{}</title></circle>"##,
            n(px(*x)),
            n(py(p.y.max(0.0))),
            color,
            esc(&p.tip)
        );
    }
    let _ = write!(
        out,
        r#"<line x1="{l}" x2="{r}" y1="{b}" y2="{b}" class="ax"/><line x1="{l}" x2="{l}" y1="{t}" y2="{b}" class="ax"/></svg>"#,
        l = n(left),
        r = n(W - right),
        b = n(top + plot_h),
        t = n(top)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(10.0, 5.0, true), 2.0);
        assert_eq!(nice_step(0.0, 5.0, true), 1.0);
        assert_eq!(nice_step(3.0, 5.0, true), 1.0);
        assert_eq!(nice_step(230.0, 5.0, true), 50.0);
        assert_eq!(nice_step(0.3, 5.0, false), 0.1);
        assert_eq!(nice_step(f64::NAN, 5.0, false), 1.0);
        assert_eq!(tick_text(2.0), "2");
        assert_eq!(tick_text(0.25), "0.25");
    }

    #[test]
    fn charts_escape_and_survive_odd_values() {
        let s = [Series { name: "<b>".into(), color: "#000" }];
        let cols = [
            Column { label: "<script>".into(), values: vec![f64::NAN], tip: "\"x\"".into() },
            Column { label: "b".into(), values: vec![-3.0], tip: "b".into() },
        ];
        let svg = columns("a<", &s, &cols, "y");
        assert!(!svg.contains("<script") && !svg.contains("<b>") && !svg.contains("NaN"), "{svg}");
        let bars = [HBar { label: "<img src=x>".into(), value: f64::INFINITY, note: "&".into(), color: "#000" }];
        let svg = hbars("a", &bars);
        assert!(!svg.contains("<img") && svg.contains("&amp;"), "{svg}");
        let p = [Point { x: 0.0, y: 0.0, series: 9, tip: "<x>".into() }];
        let svg = scatter("a", &[], &p, "x", "y", true);
        assert!(!svg.contains("<x>") && !svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        assert!(columns("a", &s, &[], "y").contains("no data"));
    }
}
