//! Exports officers open in a spreadsheet: the member directory, membership requests, the
//! pledge queue, target progress, member statistics and a training's roster, as CSV or as an
//! XLSX workbook.
//!
//! - **What is in them** is what the caller may see: each export resolves the caller's reach
//!   exactly as its list in the console does (`NOT_FOUND`/`FORBIDDEN` the same way), then pages
//!   through it by keyset, [`PAGE`] rows per statement.
//! - **Streamed**: rows go out as they are read. CSV is written page by page; an XLSX sheet is
//!   written in `rust_xlsxwriter`'s constant-memory mode (rows go to a temporary file, not to
//!   memory) and the workbook is zipped straight into the response. Memory stays flat whatever
//!   the size (see `docs/benchmarks.md`).
//! - **Readable**: Vietnamese headers and status labels ("Đang sinh hoạt", not `ACTIVE`), times
//!   in Hanoi local time to the minute (`06/12/2026 09:30`; in XLSX real date cells), dates as
//!   dates. CSV is UTF-8 with a byte-order mark, so Excel reads the accents.
//! - **Safe**: in CSV a text cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return
//!   is prefixed with `'`, so a spreadsheet never runs it as a formula (CSV injection); XLSX text
//!   cells are always text cells, never formulas.

pub mod csv;
pub mod labels;
pub mod sources;
pub mod xlsx;

use chrono::{DateTime, NaiveDate, Utc};

use crate::error::ApiError;

/// Rows read per statement.
pub const PAGE: u64 = 1000;

/// The file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "csv" => Some(Format::Csv),
            "xlsx" => Some(Format::Xlsx),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

/// One cell.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Empty,
    /// Text anyone may have typed (defused in CSV).
    Text(String),
    /// Text the service made or checked — a code, a label, a phone number (`+84…`), a member
    /// number — written as it is.
    Plain(String),
    Int(i64),
    Number(f64),
    Date(NaiveDate),
    /// Shown in Hanoi local time, to the minute.
    Time(DateTime<Utc>),
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Self {
        Cell::Text(s.into())
    }

    pub fn plain(s: impl Into<String>) -> Self {
        Cell::Plain(s.into())
    }

    pub fn opt_text(s: Option<impl Into<String>>) -> Self {
        s.map_or(Cell::Empty, |s| Cell::Text(s.into()))
    }

    pub fn opt_time(t: Option<DateTime<Utc>>) -> Self {
        t.map_or(Cell::Empty, Cell::Time)
    }
}

/// A sheet's name (the XLSX tab), its file name's stem and its column headers.
#[derive(Clone, Debug)]
pub struct Layout {
    pub sheet: &'static str,
    pub file_stem: String,
    pub headers: &'static [&'static str],
}

/// Hanoi local time of an instant, to the minute: `06/12/2026 09:30`.
pub fn hanoi_time(at: DateTime<Utc>) -> String {
    (at + crate::domain::HANOI_OFFSET).format("%d/%m/%Y %H:%M").to_string()
}

/// A date as Vietnamese spreadsheets show it: `06/12/2026`.
pub fn date(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// How much is sent to the client at a time.
const CHUNK: usize = 64 * 1024;

/// The chunks of an export, as they are made.
pub type Chunks = tokio::sync::mpsc::Receiver<Result<Vec<u8>, ApiError>>;

/// Writes `source` as `format` on tasks of its own and answers the chunks as they come. An
/// error after the first chunk ends the chunks with it: the response is then cut short, never
/// a file that looks whole. A client that goes away stops the export at the next page.
/// `guard` is held until the export's tasks end (the caller's one-export-at-a-time slot).
pub fn stream<S: sources::Source + 'static>(format: Format, source: S, guard: impl Send + 'static) -> Chunks {
    let (out, chunks) = tokio::sync::mpsc::channel(4);
    match format {
        Format::Csv => {
            tokio::spawn(async move {
                write_csv(source, out).await;
                drop(guard);
            });
        }
        Format::Xlsx => write_xlsx(source, out, guard),
    }
    chunks
}

async fn write_csv<S: sources::Source>(
    mut source: S,
    out: tokio::sync::mpsc::Sender<Result<Vec<u8>, ApiError>>,
) {
    let mut buf = String::with_capacity(CHUNK + 4096);
    buf.push_str(csv::BOM);
    csv::push_headers(&mut buf, source.layout().headers);
    loop {
        if out.is_closed() {
            return;
        }
        match source.next().await {
            Ok(Some(rows)) => {
                for row in rows {
                    csv::push_row(&mut buf, &row);
                    if buf.len() >= CHUNK
                        && out.send(Ok(std::mem::take(&mut buf).into_bytes())).await.is_err()
                    {
                        return;
                    }
                }
            }
            Ok(None) => break,
            Err(e) => {
                let _ = out.send(Err(e)).await;
                return;
            }
        }
    }
    if !buf.is_empty() {
        let _ = out.send(Ok(buf.into_bytes())).await;
    }
}

/// Pages are read on the runtime and written into the workbook on a blocking thread; the
/// workbook is then zipped into the chunks there.
fn write_xlsx<S: sources::Source + 'static>(
    mut source: S,
    out: tokio::sync::mpsc::Sender<Result<Vec<u8>, ApiError>>,
    guard: impl Send + 'static,
) {
    let layout = source.layout();
    let (pages, mut pages_in) = tokio::sync::mpsc::channel::<Result<Vec<Vec<Cell>>, ApiError>>(2);
    let client = out.clone();
    tokio::spawn(async move {
        loop {
            if client.is_closed() {
                return;
            }
            let page = source.next().await;
            let last = !matches!(page, Ok(Some(_)));
            let sent = match page {
                Ok(Some(rows)) => pages.send(Ok(rows)).await,
                Ok(None) => return,
                Err(e) => pages.send(Err(e)).await,
            };
            if sent.is_err() || last {
                return;
            }
        }
    });
    tokio::task::spawn_blocking(move || {
        let _guard = guard;
        let written = (|| {
            let mut sheet = xlsx::Sheet::new(layout, None)?;
            while let Some(page) = pages_in.blocking_recv() {
                // The client went away: stop (dropping the pages stops the reader too).
                if out.is_closed() {
                    return Ok(());
                }
                for row in page? {
                    sheet.push(&row)?;
                }
            }
            sheet.finish(ChannelWriter { out: out.clone(), buf: Vec::with_capacity(CHUNK) })
        })();
        if let Err(e) = written {
            let _ = out.blocking_send(Err(e));
        }
    });
}

/// A `Write` into the chunks, from a blocking thread; what is left is sent when it is dropped.
struct ChannelWriter {
    out: tokio::sync::mpsc::Sender<Result<Vec<u8>, ApiError>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.out.blocking_send(Ok(chunk)).map_err(|_| std::io::ErrorKind::BrokenPipe.into())
    }
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

impl Drop for ChannelWriter {
    fn drop(&mut self) {
        let _ = self.send();
    }
}

/// A whole export as one text (a training's roster, small by nature, for `rosterCsv`).
pub async fn csv_text<S: sources::Source>(mut source: S) -> Result<String, ApiError> {
    let mut out = String::from(csv::BOM);
    csv::push_headers(&mut out, source.layout().headers);
    while let Some(rows) = source.next().await? {
        for row in rows {
            csv::push_row(&mut out, &row);
        }
    }
    Ok(out)
}
