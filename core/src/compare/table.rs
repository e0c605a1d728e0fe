//! One table, two renderings: `report.md` (Markdown) and the console summary (aligned text), so
//! the two never disagree on a column or a number.

use std::fmt::Write;

/// Column alignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Right,
}

/// A table: headers, alignment per column, rows of already formatted cells.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Table {
    pub headers: Vec<String>,
    pub align: Vec<Align>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these `(header, alignment)` columns and no rows.
    pub fn new(columns: &[(&str, Align)]) -> Table {
        Table {
            headers: columns.iter().map(|(h, _)| h.to_string()).collect(),
            align: columns.iter().map(|(_, a)| *a).collect(),
            rows: vec![],
        }
    }

    /// Appends a row (one cell per column).
    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.headers.len());
        self.rows.push(cells);
    }

    /// GitHub Markdown; `|` in cells escaped.
    pub fn to_markdown(&self) -> String {
        let cell = |c: &str| c.replace('|', "\\|").replace('\n', " ");
        let mut s = String::new();
        let _ = writeln!(
            s,
            "| {} |",
            self.headers.iter().map(|h| cell(h)).collect::<Vec<_>>().join(" | ")
        );
        let rules: Vec<&str> =
            self.align.iter().map(|a| if *a == Align::Right { "---:" } else { "---" }).collect();
        let _ = writeln!(s, "|{}|", rules.join("|"));
        for row in &self.rows {
            let _ =
                writeln!(s, "| {} |", row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | "));
        }
        s
    }

    /// Aligned plain text, two-space indent, columns as wide as their widest cell.
    pub fn to_text(&self) -> String {
        let width = |c: &str| c.chars().count();
        let widths: Vec<usize> = (0..self.headers.len())
            .map(|i| {
                self.rows
                    .iter()
                    .map(|r| width(&r[i]))
                    .chain(std::iter::once(width(&self.headers[i])))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| {
            let parts: Vec<String> = cells
                .iter()
                .zip(&widths)
                .zip(&self.align)
                .map(|((c, &w), a)| {
                    let pad = " ".repeat(w.saturating_sub(width(c)));
                    match a {
                        Align::Left => format!("{c}{pad}"),
                        Align::Right => format!("{pad}{c}"),
                    }
                })
                .collect();
            format!("  {}", parts.join("  ").trim_end())
        };
        let mut s = line(&self.headers) + "\n";
        for row in &self.rows {
            s.push_str(&line(row));
            s.push('\n');
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_renderings_hold_the_same_cells() {
        let mut t = Table::new(&[("node", Align::Left), ("SQNR dB", Align::Right)]);
        t.row(vec!["conv1".into(), "48.62".into()]);
        t.row(vec!["layer4.0.downsample.0".into(), "∞".into()]);
        assert_eq!(
            t.to_markdown(),
            "| node | SQNR dB |\n|---|---:|\n| conv1 | 48.62 |\n| layer4.0.downsample.0 | ∞ |\n"
        );
        assert_eq!(
            t.to_text(),
            "  node                   SQNR dB\n  conv1                    48.62\n  layer4.0.downsample.0        ∞\n"
        );
    }
}
