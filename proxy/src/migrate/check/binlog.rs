//! Change capture reads row events: the primary must write a row-based binlog
//! whose images carry the key columns.

use crate::migrate::fetch::Fetch;
use mysql_async::Conn;

use super::Refusal;
use crate::migrate::MigrateError;

pub async fn binlog_is_row_based(conn: &mut Conn) -> Result<Result<(), Refusal>, MigrateError> {
    let row: Option<(u64, String, String)> = conn
        .first_as("SELECT @@log_bin, @@binlog_format, @@binlog_row_image")
        .await?;
    let Some((log_bin, format, image)) = row else {
        return Ok(Err(Refusal(
            "cannot read the primary's binlog settings".into(),
        )));
    };
    Ok(check(log_bin != 0, &format, &image))
}

fn check(log_bin: bool, format: &str, image: &str) -> Result<(), Refusal> {
    if !log_bin {
        return Err(Refusal(
            "the primary has no binary log (log_bin is off)".into(),
        ));
    }
    if !format.eq_ignore_ascii_case("ROW") {
        return Err(Refusal(format!(
            "binlog_format is {format}; online ALTER needs ROW"
        )));
    }
    if !(image.eq_ignore_ascii_case("FULL") || image.eq_ignore_ascii_case("NOBLOB")) {
        return Err(Refusal(format!(
            "binlog_row_image is {image}; online ALTER needs FULL or NOBLOB"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn statement_or_minimal_binlogs_are_refused() {
        assert!(check(true, "ROW", "FULL").is_ok());
        assert!(check(true, "row", "NOBLOB").is_ok());
        assert!(check(false, "ROW", "FULL").is_err());
        assert!(check(true, "MIXED", "FULL").is_err());
        assert!(check(true, "ROW", "MINIMAL").is_err());
    }
}
