//! XLSX through `rust_xlsxwriter`, in constant-memory mode: each row is written to the
//! worksheet's temporary file as it comes, and the finished workbook is zipped into any
//! `Write` (the response, through a channel). Past Excel's 1,048,576 rows a sheet continues on
//! the next one ("Hội viên (2)").

use std::io::Write;

use chrono::{Datelike, Timelike};
use rust_xlsxwriter::{ExcelDateTime, Format, FormatAlign, Workbook, Worksheet, XlsxError};

use super::{Cell, Layout};
use crate::{domain::HANOI_OFFSET, error::ApiError};

/// Rows of one sheet, the header included (Excel's limit).
const MAX_ROWS: u32 = 1_048_576;

fn failed(e: XlsxError) -> ApiError {
    ApiError::internal(format_args!("writing a workbook: {e}"))
}

/// A workbook being written, one sheet (or more, past Excel's row limit) of one layout.
pub struct Sheet {
    workbook: Workbook,
    layout: Layout,
    sheets: usize,
    row: u32,
    header: Format,
    date: Format,
    time: Format,
}

impl Sheet {
    /// A workbook with its first sheet and the header row; temporary files go to `tempdir`
    /// (the system's when `None`).
    pub fn new(layout: Layout, tempdir: Option<&std::path::Path>) -> Result<Self, ApiError> {
        let mut workbook = Workbook::new();
        if let Some(dir) = tempdir {
            workbook.set_tempdir(dir).map_err(failed)?;
        }
        let mut sheet = Self {
            workbook,
            layout,
            sheets: 0,
            row: 0,
            header: Format::new().set_bold().set_align(FormatAlign::Center).set_text_wrap(),
            date: Format::new().set_num_format("dd/mm/yyyy"),
            time: Format::new().set_num_format("dd/mm/yyyy hh:mm"),
        };
        sheet.add_sheet()?;
        Ok(sheet)
    }

    fn add_sheet(&mut self) -> Result<(), ApiError> {
        self.sheets += 1;
        let name = if self.sheets == 1 {
            self.layout.sheet.to_owned()
        } else {
            format!("{} ({})", self.layout.sheet, self.sheets)
        };
        let ws = self.workbook.add_worksheet_with_constant_memory().map_err(failed)?;
        ws.set_name(name).map_err(failed)?;
        for (col, h) in self.layout.headers.iter().enumerate() {
            let col = col as u16;
            ws.set_column_width(col, 18).map_err(failed)?;
            ws.write_string_with_format(0, col, *h, &self.header).map_err(failed)?;
        }
        ws.set_freeze_panes(1, 0).map_err(failed)?;
        self.row = 1;
        Ok(())
    }

    fn worksheet(&mut self) -> Result<&mut Worksheet, ApiError> {
        self.workbook.worksheet_from_index(self.sheets - 1).map_err(failed)
    }

    /// Writes the next row.
    pub fn push(&mut self, cells: &[Cell]) -> Result<(), ApiError> {
        if self.row >= MAX_ROWS {
            self.add_sheet()?;
        }
        let row = self.row;
        let (date, time) = (self.date.clone(), self.time.clone());
        let ws = self.worksheet()?;
        for (col, cell) in cells.iter().enumerate() {
            let col = col as u16;
            match cell {
                Cell::Empty => {}
                // Text is always a text cell, never a formula, whatever it starts with.
                Cell::Text(s) | Cell::Plain(s) => {
                    ws.write_string(row, col, s).map_err(failed)?;
                }
                Cell::Int(n) => {
                    ws.write_number(row, col, *n as f64).map_err(failed)?;
                }
                Cell::Number(x) => {
                    ws.write_number(row, col, *x).map_err(failed)?;
                }
                Cell::Date(d) => {
                    let at = ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)
                        .map_err(failed)?;
                    ws.write_datetime_with_format(row, col, &at, &date).map_err(failed)?;
                }
                Cell::Time(t) => {
                    let local = *t + HANOI_OFFSET;
                    let at =
                        ExcelDateTime::from_ymd(local.year() as u16, local.month() as u8, local.day() as u8)
                            .and_then(|d| d.and_hms(local.hour() as u16, local.minute() as u8, 0))
                            .map_err(failed)?;
                    ws.write_datetime_with_format(row, col, &at, &time).map_err(failed)?;
                }
            }
        }
        self.row += 1;
        Ok(())
    }

    /// Zips the workbook into `out`.
    pub fn finish(mut self, out: impl Write + Send) -> Result<(), ApiError> {
        self.workbook.save_to_writer(out).map_err(failed)
    }
}
