//! Reading an uploaded CSV file: UTF-8 with or without a byte order mark, separated by commas
//! or semicolons (what spreadsheets in many locales write; the header row tells which), with a
//! header row first.

use rapport_domain::Invalid;

use crate::error::ApiError;

/// The separators a file may use.
pub const DELIMITERS: &[&str] = &[",", ";"];

/// The file's text, without a byte order mark.
///
/// # Errors
/// 422 naming `file` when it is not UTF-8 or has no header row.
pub fn decode(bytes: &[u8]) -> Result<String, ApiError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::invalid("file", Invalid::InvalidEncoding))?;
    if text.trim().is_empty() {
        return Err(ApiError::invalid("file", Invalid::Required));
    }
    Ok(text.to_owned())
}

/// The separator of `text`: `;` when its header row holds more semicolons than commas
/// (outside quotes), `,` otherwise.
pub fn sniff(text: &str) -> u8 {
    let (mut commas, mut semicolons, mut quoted) = (0, 0, false);
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            '\n' if !quoted => break,
            ',' if !quoted => commas += 1,
            ';' if !quoted => semicolons += 1,
            _ => {}
        }
    }
    if semicolons > commas { b';' } else { b',' }
}

/// A data row: its number as a spreadsheet shows it (the header is row 1, and a cell that
/// spans lines is still one row) and its cells, or why it cannot be read as the header's
/// columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub number: u64,
    pub cells: Result<Vec<String>, Invalid>,
}

/// A file's header and its rows, read one at a time.
pub struct Rows<'a> {
    headers: Vec<String>,
    reader: csv::Reader<&'a [u8]>,
    /// The number of the last row read.
    number: u64,
}

impl<'a> Rows<'a> {
    /// Opens `text` separated by `delimiter`.
    ///
    /// # Errors
    /// 422 naming `file` when its header row cannot be read.
    pub fn open(text: &'a str, delimiter: u8) -> Result<Rows<'a>, ApiError> {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .from_reader(text.as_bytes());
        let headers: Vec<String> = reader
            .headers()
            .map_err(|_| ApiError::invalid("file", Invalid::InvalidCsv))?
            .iter()
            .map(|h| h.trim().to_owned())
            .collect();
        if headers.iter().all(String::is_empty) {
            return Err(ApiError::invalid("file", Invalid::Required));
        }
        Ok(Rows {
            headers,
            reader,
            number: 1,
        })
    }

    pub fn headers(&self) -> &[String] {
        &self.headers
    }
}

impl Iterator for Rows<'_> {
    type Item = Row;

    fn next(&mut self) -> Option<Row> {
        let mut record = csv::StringRecord::new();
        let cells = match self.reader.read_record(&mut record) {
            Ok(false) => return None,
            // More cells than the header: a separator inside an unquoted cell, most likely;
            // no guess at which cell it split.
            Ok(true) if record.len() > self.headers.len() => Err(Invalid::InvalidCsv),
            Ok(true) => Ok(record.iter().map(str::to_owned).collect()),
            Err(_) => Err(Invalid::InvalidCsv),
        };
        self.number += 1;
        Some(Row {
            number: self.number,
            cells,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_order_mark_is_dropped_and_other_encodings_refused() {
        assert_eq!(decode(b"\xEF\xBB\xBFname\nAcme\n").unwrap(), "name\nAcme\n");
        assert!(decode(b"name\n\xC4cme\n").is_err());
        assert!(decode(b"\xEF\xBB\xBF \n").is_err());
    }

    #[test]
    fn the_header_row_tells_the_separator() {
        assert_eq!(sniff("name;email\nA,B;c\n"), b';');
        assert_eq!(sniff("name,email\nA;B;C;D\n"), b',');
        assert_eq!(sniff("\"a;b;c\",email\n"), b',');
        assert_eq!(sniff("name\n"), b',');
    }

    #[test]
    fn rows_are_numbered_as_a_spreadsheet_does_and_refuse_extra_cells() {
        let text =
            "name;city\r\nAcme;Berlin\r\n\"Multi\r\nline\";Paris\r\nToo;many;cells\r\nShort\r\n";
        let mut rows = Rows::open(text, b';').unwrap();
        assert_eq!(rows.headers(), ["name", "city"]);
        let all: Vec<Row> = rows.by_ref().collect();
        let numbers: Vec<u64> = all.iter().map(|r| r.number).collect();
        assert_eq!(numbers, [2, 3, 4, 5]);
        assert_eq!(
            all[1].cells,
            Ok(vec!["Multi\r\nline".into(), "Paris".into()])
        );
        assert_eq!(all[2].cells, Err(Invalid::InvalidCsv));
        assert_eq!(all[3].cells, Ok(vec!["Short".into()]));
    }
}
