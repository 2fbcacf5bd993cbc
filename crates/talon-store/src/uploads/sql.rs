//! `UploadStore` for every store, in SQL both databases run.

use async_trait::async_trait;
use talon_domain::UploadId;
use talon_domain::marketplace::Upload;

use super::rows::{UPLOAD_COLUMNS, UploadRow, bind_upload};
use crate::db::{Portable, run};
use crate::{StoreError, UploadStore};

const INSERT_UPLOAD: &str = "INSERT INTO uploads (id, user_id, agent_id, bucket, file_name, content_type, \
     size_bytes, storage_key, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

#[async_trait]
impl<S: Portable> UploadStore for S {
    async fn insert_upload(&self, upload: &Upload) -> Result<(), StoreError> {
        run!(self.db().writer(), |e| bind_upload(sqlx::query(INSERT_UPLOAD), upload).execute(e).await.map(|_| ()))?;
        Ok(())
    }

    async fn upload(&self, id: UploadId) -> Result<Option<Upload>, StoreError> {
        let statement = format!("SELECT {UPLOAD_COLUMNS} FROM uploads WHERE id = $1");
        let row: Option<UploadRow> =
            run!(self.db().reader(), |e| sqlx::query_as(&statement).bind(id.as_uuid()).fetch_optional(e).await)?;
        Ok(row.map(Into::into))
    }
}
