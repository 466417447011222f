//! `docket bench sla`: finding the breaching cases among many open ones on SQLite. The sweep
//! reads the SLA alarm index up to now and the lists read the due and breached indexes, so
//! their cost must follow the cases that owe something, not the open ones.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use docket_domain::Docket;
use docket_domain::agreements::ServiceAgreement;
use docket_domain::calendar::Calendar;
use docket_domain::cases::{CaseFilter, CaseSort, Cases, SlaFilter};
use docket_domain::clock::{Clock, ManualClock, SystemClock};
use docket_domain::model::Role;
use docket_domain::{Principal, Sweep};

use super::{remove_database, temp_path};

/// Runs `work(0..n)` on `lanes` tasks, each taking the next index when done with its last.
async fn in_lanes<F, Fut>(n: usize, lanes: usize, work: F) -> Result<(), String>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let work = Arc::new(work);
    let tasks: Vec<_> = (0..lanes.max(1))
        .map(|_| {
            let (next, work) = (next.clone(), work.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return Ok::<_, String>(());
                    }
                    work(i).await?;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.map_err(|e| e.to_string())??;
    }
    Ok(())
}

/// Whether case `i` of `n` is one of the `breaching` (Urgent) ones: exactly `breaching` of
/// them, spread evenly over creation order.
fn is_urgent(i: usize, n: usize, breaching: usize) -> bool {
    let (i, n, b) = (i as u128, n as u128, breaching.min(n) as u128);
    (i + 1) * b / n != i * b / n
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

/// Sweeps until a sweep says no more alarms have come; the sweeps' sum and how many it took.
async fn sweep_all(cases: &Cases<'_>) -> Result<(Sweep, usize, Duration), String> {
    let mut total = Sweep::default();
    let started = Instant::now();
    for sweeps in 1.. {
        let sweep = cases.sweep_sla().await.map_err(|e| e.to_string())?;
        total.watched += sweep.watched;
        total.announced += sweep.announced;
        total.failed += sweep.failed;
        if !sweep.more {
            return Ok((total, sweeps, started.elapsed()));
        }
    }
    unreachable!("the loop returns")
}

/// The first page (25) of an SLA list, `runs` times: sorted latencies, and the page's size.
async fn time_list(cases: &Cases<'_>, admin: &Principal, sla: SlaFilter, runs: usize) -> Result<(Vec<Duration>, usize), String> {
    let mut latencies = Vec::with_capacity(runs);
    let mut size = 0;
    for _ in 0..runs {
        let began = Instant::now();
        let (page, _) =
            cases.list(admin, CaseFilter { sla: Some(sla), ..CaseFilter::default() }, CaseSort::Created, 25, None).await.map_err(|e| e.to_string())?;
        latencies.push(began.elapsed());
        size = page.len();
    }
    latencies.sort();
    Ok((latencies, size))
}

/// Every case of an SLA list, 100 a page: how many and how long.
async fn read_whole_list(cases: &Cases<'_>, admin: &Principal, sla: SlaFilter) -> Result<(usize, Duration), String> {
    let started = Instant::now();
    let (mut count, mut after) = (0, None);
    loop {
        let (page, next) =
            cases.list(admin, CaseFilter { sla: Some(sla), ..CaseFilter::default() }, CaseSort::Created, 100, after.take()).await.map_err(|e| e.to_string())?;
        count += page.len();
        match next {
            Some(next) => after = Some(next),
            None => return Ok((count, started.elapsed())),
        }
    }
}

/// The naive way, for contrast: every case of the all-cases list, its clocks computed now.
async fn naive_scan(cases: &Cases<'_>, admin: &Principal) -> Result<(usize, usize, Duration), String> {
    let started = Instant::now();
    let (mut read, mut breached, mut after) = (0, 0, None);
    loop {
        let (page, next) = cases.list(admin, CaseFilter::default(), CaseSort::Created, 100, after.take()).await.map_err(|e| e.to_string())?;
        for case in &page {
            read += 1;
            let view = cases.sla(admin, case).await.map_err(|e| e.to_string())?;
            if view.and_then(|v| v.first_response).is_some_and(|clock| clock.breached) {
                breached += 1;
            }
        }
        match next {
            Some(next) => after = Some(next),
            None => return Ok((read, breached, started.elapsed())),
        }
    }
}

pub(super) async fn sla(open: usize, breaching: &[usize], runs: usize, concurrency: usize, naive: bool) -> Result<(), String> {
    println!(
        "| open cases | breaching | seed: create s | seed: watch s | first sweep: alarms read | announced | sweeps | ms | next sweep: alarms read | p50 ms | p99 ms | breached, first 25: p50 ms | p99 ms | due ≤ 60 min, first 25: p50 ms | p99 ms | whole breached list: cases | ms |{}",
        if naive { " naive scan: cases read | breached | s |" } else { "" }
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|{}", if naive { "---|---|---|" } else { "" });
    for &b in breaching {
        let b = b.min(open);
        let store_path = temp_path("sla.sqlite");
        let queue_path = temp_path("sla-assign.sqlite");
        let store = docket_embedded::SqliteItemStore::open(&store_path, docket_domain::schema::tables()).map_err(|e| e.to_string())?;
        let clock = Arc::new(ManualClock::new(SystemClock.now()));
        let docket = Docket::new(Arc::new(store), clock.clone()).with_case_number_block(crate::local::CASE_NUMBER_BLOCK);
        let admin = Principal::Staff(docket.create_user_unchecked("Bench Admin", "bench@docket.localhost", Role::Admin).await.map_err(|e| e.to_string())?);
        let directory = docket.directory_service();
        let always = serde_json::json!([{"start": "00:00", "end": "24:00"}]);
        let hours = serde_json::json!({"monday": always, "tuesday": always, "wednesday": always, "thursday": always, "friday": always, "saturday": always, "sunday": always});
        let fields = serde_json::from_value(serde_json::json!({"name": "Always", "time_zone": "UTC", "hours": hours})).map_err(|e| e.to_string())?;
        let calendar: Calendar = directory.create(&admin, fields).await.map_err(|e| e.to_string())?;
        let fields = serde_json::from_value(serde_json::json!({
            "name": "Bench",
            "calendar_id": calendar.id,
            "targets": {"Urgent": {"first_response_minutes": 15}, "Low": {"first_response_minutes": 7 * 24 * 60}},
            "applies_to": {"kind": "default"},
        }))
        .map_err(|e| e.to_string())?;
        let _: ServiceAgreement = directory.create(&admin, fields).await.map_err(|e| e.to_string())?;

        // Seed: the cases (no assign queue: the worker's part, `watch_sla`, is called below).
        let ids = Arc::new(std::sync::Mutex::new(vec![String::new(); open]));
        let started = Instant::now();
        let (d, a, ids_in) = (docket.clone(), admin.clone(), ids.clone());
        in_lanes(open, concurrency, move |i| {
            let (docket, admin, ids) = (d.clone(), a.clone(), ids_in.clone());
            async move {
                let priority = if is_urgent(i, open, b) { "Urgent" } else { "Low" };
                let body = serde_json::json!({"subject": format!("Bench case {i}"), "priority": priority});
                let new = Cases::parse_new(&admin, body).map_err(|e| e.to_string())?;
                let case = docket.cases().create(&admin, new, None).await.map_err(|e| e.to_string())?.case;
                ids.lock().map_err(|e| e.to_string())?[i] = case.id.to_string();
                Ok(())
            }
        })
        .await?;
        let create_time = started.elapsed();
        let ids: Arc<Vec<String>> = Arc::new(std::mem::take(&mut *ids.lock().map_err(|e| e.to_string())?));
        let started = Instant::now();
        let d = docket.clone();
        in_lanes(open, concurrency, move |i| {
            let (docket, ids) = (d.clone(), ids.clone());
            async move {
                let alerts = docket.cases().watch_sla(&ids[i]).await.map_err(|e| e.to_string())?;
                if alerts.is_empty() { Ok(()) } else { Err(format!("a new case announced {alerts:?}")) }
            }
        })
        .await?;
        let watch_time = started.elapsed();

        // An hour later the Urgent cases have breached; the sweep announces it through the
        // outbox and the assign queue, as `docket serve` does.
        clock.advance(Duration::from_secs(3600).try_into().map_err(|_| "an hour is a duration")?);
        let queue = docket_embedded::SqliteQueue::open(&queue_path, "assign", 5).map_err(|e| e.to_string())?;
        let swept = docket.clone().with_assign_queue(Arc::new(queue));
        let cases = swept.cases();
        let (first, sweeps, first_time) = sweep_all(&cases).await?;
        // One alert a case: a clock found already breached owes its breach, not its warning.
        if first.watched != b || first.announced != b || first.failed != 0 {
            return Err(format!("{b} breaching cases, but the first sweep gave {first:?}"));
        }
        let mut idle = Vec::with_capacity(runs);
        let mut idle_read = 0;
        for _ in 0..runs {
            let (sweep, _, time) = sweep_all(&cases).await?;
            idle_read = idle_read.max(sweep.watched);
            idle.push(time);
        }
        idle.sort();
        let (breached, breached_size) = time_list(&cases, &admin, SlaFilter::Breached, runs).await?;
        let (due, due_size) = time_list(&cases, &admin, SlaFilter::Due { within_minutes: Some(60) }, runs).await?;
        if breached_size != b.min(25) || due_size != b.min(25) {
            return Err(format!("{b} breaching cases, but the lists' first pages held {breached_size} and {due_size}"));
        }
        let (whole, whole_time) = read_whole_list(&cases, &admin, SlaFilter::Breached).await?;
        if whole != b {
            return Err(format!("{b} breaching cases, but the breached list held {whole}"));
        }
        let naive_cells = if naive {
            let (read, found, time) = naive_scan(&cases, &admin).await?;
            if found != b {
                return Err(format!("{b} breaching cases, but the naive scan found {found}"));
            }
            format!(" {read} | {found} | {:.1} |", time.as_secs_f64())
        } else {
            String::new()
        };
        println!(
            "| {open} | {b} | {:.1} | {:.1} | {} | {} | {sweeps} | {:.1} | {idle_read} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {whole} | {:.1} |{naive_cells}",
            create_time.as_secs_f64(),
            watch_time.as_secs_f64(),
            first.watched,
            first.announced,
            ms(first_time),
            ms(percentile(&idle, 0.5)),
            ms(percentile(&idle, 0.99)),
            ms(percentile(&breached, 0.5)),
            ms(percentile(&breached, 0.99)),
            ms(percentile(&due, 0.5)),
            ms(percentile(&due, 0.99)),
            ms(whole_time),
        );
        drop(swept);
        drop(docket);
        remove_database(&store_path);
        remove_database(&queue_path);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn exactly_the_breaching_share_is_urgent() {
        for (n, b) in [(100_000, 0), (100_000, 100), (100_000, 10_000), (7, 3), (5, 5)] {
            assert_eq!((0..n).filter(|&i| super::is_urgent(i, n, b)).count(), b, "{b} of {n}");
        }
    }
}
