//! SQLite on a full disk and on a read-only data directory.

use std::{io::Write, time::Instant};

use sea_orm::{ColumnTrait, ConnectionTrait, Database, EntityTrait, QueryFilter};
use serde_json::json;

use super::{Mount, can_mount, ms};
use crate::{helpers::*, violence};

/// Fills the filesystem at `dir` to the last byte; the filler file is returned for removal.
fn fill(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let block = vec![0u8; 64 * 1024];
    loop {
        if file.write_all(&block).is_err() {
            break;
        }
    }
    // What is left is smaller than a block: fill it byte by byte.
    while file.write_all(&[0u8]).is_ok() && file.flush().is_ok() {}
    path
}

fn skip(what: &str) -> bool {
    if can_mount() {
        return false;
    }
    eprintln!("{what}: needs root to mount a filesystem; nothing checked here (CI runs as root)");
    true
}

/// A submission the reporter was told succeeded (her reference code), or the error code.
async fn submit(app: &TestApp, unit: &str, n: usize) -> Result<String, (u16, String)> {
    let input = violence::input(unit, false, &format!("Báo cáo thử số {n} khi ổ đĩa đầy."));
    let res = app.gql(violence::SUBMIT, json!({ "i": input }), None).await;
    match res.body["data"]["submitViolenceReport"]["referenceCode"].as_str() {
        Some(code) if !res.has_errors() => Ok(code.to_owned()),
        _ => Err((res.status, res.code().unwrap_or("none").to_owned())),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_never_loses_an_acknowledged_write() {
    if backend() != "sqlite" || skip("disk full") {
        return;
    }
    let disk = Mount::tmpfs("24m");
    let file = disk.path.join("phunu.db");
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let app = spawn_app_with(&[("DATABASE_URL", &url), ("APP_REPORT_MAX_PER_ADDRESS", "1000")]).await;
    let unit = app.unit_id("HN-LB-BD").await;
    let mut acknowledged = Vec::new();
    acknowledged.push(submit(&app, &unit, 0).await.expect("a write with room on the disk"));

    // Empty the WAL, so the next commits must grow it, then take the last byte of the disk.
    app.state.db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)").await.unwrap();
    let filler = fill(&disk.path);
    let (mut refused, started) = (Vec::new(), Instant::now());
    for n in 1..=20 {
        match submit(&app, &unit, n).await {
            Ok(code) => acknowledged.push(code),
            Err(err) => refused.push(err),
        }
    }
    let full_ms = ms(started);
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap().status().as_u16();
    assert!(!refused.is_empty(), "the full disk refused no write; the test proved nothing");
    for (status, code) in &refused {
        assert_eq!((*status, code.as_str()), (503, "UNAVAILABLE"), "a full disk is a retryable outage");
    }
    assert_eq!(ready, 503, "/readyz fails while the database cannot take writes");

    // Room again: every write goes through, and none of them only into a savepoint.
    std::fs::remove_file(filler).unwrap();
    let recovered = Instant::now();
    for n in 21..=30 {
        acknowledged.push(submit(&app, &unit, n).await.expect("writes succeed once the disk has room"));
    }
    let recovery_ms = ms(recovered);
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap().status().as_u16();
    assert_eq!(ready, 200);

    // Count what is really in the file, through a connection of its own.
    let reader = Database::connect(url.as_str()).await.unwrap();
    let mut lost = Vec::new();
    for code in &acknowledged {
        let found = entities::violence_report::Entity::find()
            .filter(entities::violence_report::Column::ReferenceCode.eq(code.as_str()))
            .one(&reader)
            .await
            .unwrap();
        if found.is_none() {
            lost.push(code.clone());
        }
    }
    eprintln!(
        "disk full (SQLite on tmpfs): {} writes refused with 503 in {full_ms} ms, {} acknowledged, \
         {} lost; 10 writes after space came back in {recovery_ms} ms",
        refused.len(),
        acknowledged.len(),
        lost.len()
    );
    assert!(lost.is_empty(), "acknowledged writes missing from the file: {lost:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_data_directory_refuses_to_start() {
    if backend() != "sqlite" || skip("read-only data directory") {
        return;
    }
    let disk = Mount::tmpfs("24m");
    let url = format!("sqlite://{}?mode=rwc", disk.path.join("phunu.db").display());
    // The first instance stays up, so its -wal and -shm files are there (as after a kill).
    let first = spawn_app_with(&[("DATABASE_URL", &url)]).await;
    first.register("0987001133", "Lê Thị Hoa", "sen-hong-2026").await;
    assert!(disk.path.join("phunu.db-wal").exists());

    let view = Mount::read_only_view(&disk.path);
    let read_only = format!("sqlite://{}?mode=rwc", view.path.join("phunu.db").display());
    let refused = first.try_peer_with(&[("DATABASE_URL", &read_only), ("APP_SEED_DEMO_DATA", "false")]).await;
    match refused {
        Err(api::startup::StartupError::NotWritable(_)) => {}
        Err(other) => panic!("refused, but not for the read-only database: {other}"),
        Ok(_) => panic!("an instance started on a read-only data directory"),
    }
}
