//! What one run of the suite found, written to `benches/RESULTS.md`, and the
//! chart of TPC-H per-query ratios (`benches/results/tpch-ratios.svg`).

use std::fmt::Write as _;
use std::path::Path;

use super::harness::{Outcome, R, Table};

/// One titled part of RESULTS.md (markdown: tables and notes).
#[derive(Debug, Clone)]
pub struct Section {
    pub title: String,
    pub body: String,
}

/// The ratio of one TPC-H query against each peer (ours / theirs; below 1
/// means thermocline was faster).
#[derive(Debug, Clone)]
pub struct QueryRatio {
    pub query: String,
    pub vs_duckdb: f64,
    pub vs_datafusion: f64,
}

#[derive(Debug, Default)]
pub struct Report {
    /// Facts about the machine and the run, as (fact, value).
    pub machine: Vec<(String, String)>,
    pub sections: Vec<Section>,
    /// Every figure that has a goal (or is reported beside one).
    pub outcomes: Vec<Outcome>,
    pub tpch: Vec<QueryRatio>,
}

impl Report {
    pub fn section(&mut self, title: impl Into<String>, body: impl Into<String>) {
        self.sections.push(Section {
            title: title.into(),
            body: body.into(),
        });
    }

    pub fn summary_table(&self) -> String {
        super::harness::outcome_table(&self.outcomes)
    }

    /// RESULTS.md: machine, the summary against every goal, then each section.
    pub fn markdown(&self, chart: Option<&str>) -> String {
        let mut out = String::from("# Benchmark results\n\n");
        out.push_str(
            "Written by `scripts/bench.sh` (`cargo bench --bench suite`); see benches/README.md for what \
             each number means. Every ratio is thermocline's time over the peer's, measured in the same \
             run with runs interleaved; below 1.0× thermocline is faster.\n\n",
        );
        out.push_str("## Machine and run\n\n");
        let mut t = Table::new(&["fact", "value"]);
        for (k, v) in &self.machine {
            t.row(vec![k.clone(), v.clone()]);
        }
        out.push_str(&t.render());
        out.push_str("\n## Summary against the goals\n\n");
        out.push_str(&self.summary_table());
        if let Some(chart) = chart {
            let _ = write!(out, "\n![TPC-H per-query ratios]({chart})\n");
        }
        for s in &self.sections {
            let _ = write!(out, "\n## {}\n\n{}\n", s.title, s.body.trim_end());
        }
        // Where we trail a peer and why: written by hand after profiling
        // (benches/suite/analysis.md), carried into every RESULTS.md.
        let analysis = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/suite/analysis.md");
        if let Ok(text) = std::fs::read_to_string(&analysis) {
            let _ = write!(out, "\n{}\n", text.trim_end());
        }
        out
    }

    pub fn write(&self, results: &Path) -> R<()> {
        let dir = results.parent().unwrap_or(Path::new("."));
        let chart = if self.tpch.is_empty() {
            None
        } else {
            let svg_dir = dir.join("results");
            std::fs::create_dir_all(&svg_dir)?;
            std::fs::write(svg_dir.join("tpch-ratios.svg"), self.tpch_chart())?;
            Some("results/tpch-ratios.svg")
        };
        std::fs::write(results, self.markdown(chart))?;
        Ok(())
    }

    /// A grouped bar chart: per query, ours/DuckDB and ours/DataFusion on a
    /// log scale, with the 1.0× line.
    pub fn tpch_chart(&self) -> String {
        let n = self.tpch.len().max(1) as f64;
        let (left, top, plot_w, plot_h) = (60.0, 40.0, 36.0 * n, 300.0);
        let width = left + plot_w + 20.0;
        let height = top + plot_h + 70.0;
        // Log scale from 1/8× to 16×, clamped.
        let (lo, hi) = (0.125f64.log2(), 16f64.log2());
        let y = |ratio: f64| {
            let r = ratio.max(1e-3).log2().clamp(lo, hi);
            top + plot_h * (hi - r) / (hi - lo)
        };
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">"#
        );
        let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            s,
            r#"<text x="{left}" y="20" font-size="14">TPC-H: thermocline time / peer time per query (log scale; below 1 = thermocline faster)</text>"#
        );
        for tick in [0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0] {
            let ty = y(tick);
            let stroke = if tick == 1.0 { "#000" } else { "#ddd" };
            let _ = writeln!(
                s,
                r#"<line x1="{left}" x2="{}" y1="{ty:.1}" y2="{ty:.1}" stroke="{stroke}"/><text x="{}" y="{:.1}" text-anchor="end">{tick}×</text>"#,
                left + plot_w,
                left - 6.0,
                ty + 4.0
            );
        }
        let base = y(1.0);
        for (i, q) in self.tpch.iter().enumerate() {
            let x = left + 36.0 * i as f64 + 4.0;
            for (j, (ratio, colour)) in [(q.vs_duckdb, "#e8a33d"), (q.vs_datafusion, "#3d7be8")]
                .iter()
                .enumerate()
            {
                let ry = y(*ratio);
                let (y0, h) = if ry < base { (ry, base - ry) } else { (base, ry - base) };
                let _ = writeln!(
                    s,
                    r#"<rect x="{:.1}" y="{y0:.1}" width="13" height="{:.1}" fill="{colour}"><title>{} vs {}: {ratio:.2}×</title></rect>"#,
                    x + 14.0 * j as f64,
                    h.max(0.5),
                    q.query,
                    if j == 0 { "DuckDB" } else { "DataFusion" }
                );
            }
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                x + 14.0,
                top + plot_h + 16.0,
                q.query
            );
        }
        let ly = top + plot_h + 40.0;
        let _ = writeln!(
            s,
            r##"<rect x="{left}" y="{ly}" width="12" height="12" fill="#e8a33d"/><text x="{}" y="{}">vs DuckDB</text><rect x="{}" y="{ly}" width="12" height="12" fill="#3d7be8"/><text x="{}" y="{}">vs bare DataFusion</text>"##,
            left + 16.0,
            ly + 10.0,
            left + 110.0,
            left + 126.0,
            ly + 10.0
        );
        s.push_str("</svg>\n");
        s
    }
}

/// The geometric mean of `values` (all > 0).
pub fn geomean(values: impl IntoIterator<Item = f64>) -> f64 {
    let (mut sum, mut n) = (0.0, 0usize);
    for v in values {
        sum += v.max(1e-12).ln();
        n += 1;
    }
    if n == 0 { 0.0 } else { (sum / n as f64).exp() }
}
