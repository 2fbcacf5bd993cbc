//! What commands print: aligned tables, the API's JSON for scripts (`--json`), and colour through
//! `anstream`, which drops it when the output is no terminal or `NO_COLOR` is set.

use anstyle::{AnsiColor, Style};
use serde_json::Value;

pub const ADDED: Style = AnsiColor::Green.on_default();
pub const REMOVED: Style = AnsiColor::Red.on_default();
pub const HEADER: Style = Style::new().bold();
pub const DIM: Style = Style::new().dimmed();
pub const HUNK: Style = AnsiColor::Cyan.on_default();
pub const ACCENT: Style = AnsiColor::Yellow.on_default();

/// `text` in `style` (the escape codes are removed on the way out when colour is off).
pub fn paint(style: Style, text: impl std::fmt::Display) -> String {
    format!("{style}{text}{style:#}")
}

/// Prints `value` as the API gave it, indented.
pub fn print_json(value: &Value) {
    anstream::println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

/// A table: a header row and rows of cells, printed with every column as wide as its widest cell.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<const N: usize>(header: [&str; N]) -> Self {
        Table { header: header.iter().map(|h| h.to_string()).collect(), rows: Vec::new() }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as text, header first; no trailing spaces.
    pub fn render(&self) -> String {
        let columns = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let mut out = String::new();
            for (i, cell) in cells.iter().enumerate().take(columns) {
                out.push_str(cell);
                if i + 1 < cells.len().min(columns) {
                    out.push_str(&" ".repeat(widths[i] - cell.chars().count() + 2));
                }
            }
            out
        };
        let mut out = paint(HEADER, line(&self.header));
        for row in &self.rows {
            out.push('\n');
            out.push_str(&line(row));
        }
        out
    }

    pub fn print(&self) {
        anstream::println!("{}", self.render());
    }
}

/// A timestamp as `2026-11-30 20:58`, or `-`.
pub fn when(value: &Value) -> String {
    value
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| "-".into())
}

/// A field as text for a cell: strings bare, null as `-`, anything else as JSON.
pub fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell() {
        let mut table = Table::new(["ID", "NAME"]);
        table.row(vec!["a".into(), "first".into()]);
        table.row(vec!["longer".into(), "x".into()]);
        let text = anstream::adapter::strip_str(&table.render()).to_string();
        assert_eq!(text, "ID      NAME\na       first\nlonger  x");
    }
}
