//! Uploaded files' metadata (the bytes are kept by the server, under its uploads directory).

use async_trait::async_trait;
use talon_domain::UploadId;
use talon_domain::marketplace::Upload;

use crate::StoreError;

mod rows;
mod sql;

#[async_trait]
pub trait UploadStore {
    async fn insert_upload(&self, upload: &Upload) -> Result<(), StoreError>;

    async fn upload(&self, id: UploadId) -> Result<Option<Upload>, StoreError>;
}
