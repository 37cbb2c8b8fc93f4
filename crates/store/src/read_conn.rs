//! What a read that holds a PostgreSQL setting for its own statements runs on.

use sea_orm::{DatabaseConnection, DatabaseTransaction, TransactionTrait};

use crate::{Conn, StoreError, Tx};

/// A pool or a transaction, on which a few statements can run under a PostgreSQL setting of
/// their own (`SET LOCAL`, which holds to the end of a transaction).
#[async_trait::async_trait]
pub trait ReadConn: Conn + Sync {
    /// A transaction of its own to hold the setting: on a pool each statement commits alone.
    /// `None` on a transaction, where the setting then holds to its end.
    async fn own_transaction(&self) -> Result<Option<DatabaseTransaction>, StoreError>;
}

#[async_trait::async_trait]
impl ReadConn for DatabaseConnection {
    async fn own_transaction(&self) -> Result<Option<DatabaseTransaction>, StoreError> {
        Ok(Some(self.begin().await?))
    }
}

#[async_trait::async_trait]
impl ReadConn for Tx {
    async fn own_transaction(&self) -> Result<Option<DatabaseTransaction>, StoreError> {
        Ok(None)
    }
}
