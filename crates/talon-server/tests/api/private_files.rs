//! What the server keeps on disk (the SQLite database and its WAL files, the generated JWT secret and
//! server key) is readable by its own user only, in a data directory only that user can enter.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use talon_domain::Account;
use talon_server::config::{resolve_jwt_secret, resolve_secret_key};
use talon_store::sqlite::SqliteStore;
use talon_store::{AccountStore, Store};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

fn account(email: &str) -> Account {
    Account {
        id: talon_domain::UserId::new(),
        email: email.into(),
        plan: "default".into(),
        created_at: chrono::Utc::now(),
    }
}

#[tokio::test]
async fn data_files_are_private() {
    let root = std::env::temp_dir().join(format!("talon-files-{}", uuid::Uuid::now_v7().simple()));
    let data = root.join("data");
    resolve_jwt_secret(None, &data).unwrap();
    resolve_secret_key(None, &data).unwrap();
    let store = SqliteStore::connect(&format!("sqlite://{}", data.join("talon.db").display())).await.unwrap();
    store.create_account(&account("a@example.com"), "hash").await.unwrap();

    assert_eq!(mode(&data), 0o700, "data dir");
    for file in ["jwt-secret", "secret-key", "talon.db", "talon.db-wal", "talon.db-shm"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    std::fs::remove_dir_all(root).unwrap();
}

#[tokio::test]
async fn a_database_left_readable_is_made_private_on_start() {
    let root = std::env::temp_dir().join(format!("talon-files-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&root).unwrap();
    let db = root.join("talon.db");
    let url = format!("sqlite://{}", db.display());
    SqliteStore::connect(&url).await.unwrap().close().await;
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();

    let store = SqliteStore::connect(&url).await.unwrap();
    store.create_account(&account("a@example.com"), "hash").await.unwrap();
    for file in ["talon.db", "talon.db-wal", "talon.db-shm"] {
        assert_eq!(mode(&root.join(file)), 0o600, "{file}");
    }
    std::fs::remove_dir_all(root).unwrap();
}
