//! An XLSX export of 50,000 members streams with flat memory. A test binary of its own, with a
//! counting allocator: it is the only test in its process, so the bytes counted are this
//! export's (and this test's).

#[path = "api/helpers.rs"]
mod helpers;

use std::{
    alloc::{GlobalAlloc, Layout, System},
    io::Read,
    sync::atomic::{AtomicUsize, Ordering},
};

use chrono::Utc;
use entities::{
    ids::{MembershipId, PersonId, UnitId},
    membership::{self, MemberStatus},
    person,
};
use helpers::*;
use sea_orm::{EntityTrait, Set};

/// The system allocator, counting the bytes live now and the most live since the last reset.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on to the system allocator unchanged; only counters are added.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let live =
                    LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size - layout.size();
                PEAK.fetch_max(live, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const MEMBERS: usize = 50_000;

/// 50,000 people with memberships in one branch, inserted a batch at a time.
async fn seed(app: &TestApp, branch: UnitId) {
    let now = Utc::now();
    for batch in 0..MEMBERS / 500 {
        let mut people = Vec::with_capacity(500);
        let mut memberships = Vec::with_capacity(500);
        for i in batch * 500..(batch + 1) * 500 {
            let id = PersonId(uuid::Uuid::now_v7());
            let name = format!("Nguyễn Thị Thử {i:05}");
            let folded = format!("nguyen thi thu {i:05}");
            people.push(person::ActiveModel {
                id: Set(id),
                phone: Set(format!("+8498{i:07}")),
                full_name: Set(name),
                name_search: Set(folded.clone()),
                is_system_admin: Set(false),
                language: Set("vi".into()),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            });
            memberships.push(membership::ActiveModel {
                id: Set(MembershipId(uuid::Uuid::now_v7())),
                person_id: Set(id),
                branch_id: Set(branch),
                member_number: Set(format!("HT{i:07}")),
                status: Set(MemberStatus::Active),
                joined_at: Set(now),
                created_at: Set(now),
                updated_at: Set(now),
                name_search: Set(folded),
                ..Default::default()
            });
        }
        person::Entity::insert_many(people).exec(&app.state.db).await.expect("people");
        membership::Entity::insert_many(memberships).exec(&app.state.db).await.expect("memberships");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_xlsx_export_of_50000_members_streams_with_flat_memory() {
    let app = spawn_app().await;
    let branch = uuid_of(&app.unit_id("HN-LB-BD-03").await);
    seed(&app, UnitId(branch)).await;
    let officer = app.token(LB_OFFICER).await;
    let unit = app.unit_id("HN-LB-BD-03").await;

    let baseline = LIVE.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    let resp = app
        .client
        .get(app.url(&format!("/exports/members.xlsx?unitId={unit}")))
        .header("authorization", format!("Bearer {officer}"))
        .send()
        .await
        .expect("request sent");
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp.headers().get("content-length").is_none(), "streamed, so no length is known up front");
    let file = std::env::temp_dir().join(format!("export-{}.xlsx", uuid::Uuid::new_v4()));
    let mut out = std::fs::File::create(&file).unwrap();
    let mut resp = resp;
    let (mut chunks, mut bytes) = (0, 0);
    while let Some(chunk) = resp.chunk().await.expect("a chunk") {
        chunks += 1;
        bytes += chunk.len();
        std::io::Write::write_all(&mut out, &chunk).unwrap();
    }
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(baseline);
    eprintln!(
        "{MEMBERS} members: {bytes} bytes in {chunks} chunks, peak {} KiB above the baseline",
        peak / 1024
    );
    assert!(chunks > 1, "the file came in pieces");
    // Holding the rows (or the workbook) in memory takes well over 30 MiB at this size.
    assert!(peak < 16 * 1024 * 1024, "peak {} KiB above the baseline", peak / 1024);

    let mut zip = zip::ZipArchive::new(std::fs::File::open(&file).unwrap()).expect("a workbook");
    let mut xml = String::new();
    zip.by_name("xl/worksheets/sheet1.xml").unwrap().read_to_string(&mut xml).unwrap();
    assert_eq!(xml.matches("<row ").count(), MEMBERS + 1, "a header and every member");
    assert!(xml.contains("Nguyễn Thị Thử 49999"));
    std::fs::remove_file(&file).ok();
}
