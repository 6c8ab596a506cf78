//! Typed reads for the engine that never panic: mysql_async converts a row to
//! a tuple by panicking when the shape differs (a NULL where a number was
//! expected), which in Tern would take a migration task down with it. Rows
//! are read as `Row` and converted with `from_row_opt`, so a surprise is an
//! error like any other.

use std::future::Future;

use mysql_async::prelude::{FromRow, Queryable};
use mysql_async::{Conn, Params, Row};

use super::MigrateError;

fn convert<T: FromRow>(row: Row) -> Result<T, MigrateError> {
    mysql_async::from_row_opt::<T>(row)
        .map_err(|e| MigrateError::Internal(format!("unexpected result from the server: {e}")))
}

pub trait Fetch {
    fn first_as<T: FromRow + Send + 'static>(
        &mut self,
        sql: impl AsRef<str> + Send,
    ) -> impl Future<Output = Result<Option<T>, MigrateError>> + Send;

    fn exec_first_as<T: FromRow + Send + 'static, P: Into<Params> + Send>(
        &mut self,
        sql: impl AsRef<str> + Send,
        params: P,
    ) -> impl Future<Output = Result<Option<T>, MigrateError>> + Send;

    fn all_as<T: FromRow + Send + 'static>(
        &mut self,
        sql: impl AsRef<str> + Send,
    ) -> impl Future<Output = Result<Vec<T>, MigrateError>> + Send;

    fn exec_all_as<T: FromRow + Send + 'static, P: Into<Params> + Send>(
        &mut self,
        sql: impl AsRef<str> + Send,
        params: P,
    ) -> impl Future<Output = Result<Vec<T>, MigrateError>> + Send;
}

impl Fetch for Conn {
    async fn first_as<T: FromRow + Send + 'static>(
        &mut self,
        sql: impl AsRef<str> + Send,
    ) -> Result<Option<T>, MigrateError> {
        let row: Option<Row> = self.query_first(sql.as_ref()).await?;
        row.map(convert).transpose()
    }

    async fn exec_first_as<T: FromRow + Send + 'static, P: Into<Params> + Send>(
        &mut self,
        sql: impl AsRef<str> + Send,
        params: P,
    ) -> Result<Option<T>, MigrateError> {
        let row: Option<Row> = self.exec_first(sql.as_ref(), params).await?;
        row.map(convert).transpose()
    }

    async fn all_as<T: FromRow + Send + 'static>(
        &mut self,
        sql: impl AsRef<str> + Send,
    ) -> Result<Vec<T>, MigrateError> {
        let rows: Vec<Row> = self.query(sql.as_ref()).await?;
        rows.into_iter().map(convert).collect()
    }

    async fn exec_all_as<T: FromRow + Send + 'static, P: Into<Params> + Send>(
        &mut self,
        sql: impl AsRef<str> + Send,
        params: P,
    ) -> Result<Vec<T>, MigrateError> {
        let rows: Vec<Row> = self.exec(sql.as_ref(), params).await?;
        rows.into_iter().map(convert).collect()
    }
}
