//! Reports people can read and plot: CSV tables built from run results, and
//! a writer that puts a report folder in place atomically, so an
//! interrupted run never leaves a report that looks complete.

mod atomic;
pub mod capacity;
pub mod chart;
pub mod deployment;
pub mod fragmentation;
mod metric;
pub mod mixed;
pub mod mixed_tables;
pub mod perf;
pub mod placement;
mod records;
pub mod serving;
mod simulation;
pub mod study;
mod text_table;

pub use atomic::{check_report_dir, write_report_dir};
pub use metric::{count, measure, rows_json, text, MetricRows, MetricValue};
pub use records::{csv_records_json, MAP_COLUMNS};
pub use simulation::{
    by_class_csv, by_model_csv, fill_chart, fill_csv, fill_summary_rows, metrics_csv, rows_csv,
    summary_rows, timeseries_chart, timeseries_csv, RunHeader,
};
pub use text_table::{metric_table, Table};

/// Formats a ratio or mean with six decimals: stable bytes, easy to read.
pub fn decimal(value: f64) -> String {
    // `-0.000000` reads as a sign where there is none.
    let value = if value == 0.0 { 0.0 } else { value };
    format!("{value:.6}")
}

/// Renders `rows` as CSV with `header`.
pub fn csv_text(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(header).expect("writing to memory");
    for row in rows {
        writer.write_record(&row).expect("writing to memory");
    }
    String::from_utf8(writer.into_inner().expect("writing to memory"))
        .expect("CSV of UTF-8 is UTF-8")
}
