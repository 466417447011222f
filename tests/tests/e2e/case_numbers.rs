//! Case numbers taken from the counter in blocks, on both engines: handed out in order, given
//! back on an orderly stop when nobody took numbers since, a gap otherwise; never shared.

use std::sync::Arc;

use docket_domain::Docket;
use docket_domain::access::Principal;
use docket_domain::cases::Cases;
use docket_domain::clock::SystemClock;
use docket_domain::model::Role;
use docket_e2e::{Engine, on_both_engines};
use docket_store::ItemStore;
use serde_json::json;

on_both_engines!(numbers_taken_in_blocks_are_used_in_order_and_go_back_on_a_stop, concurrent_creations_of_two_processes_never_share_a_number);

/// A process on `store` taking `block` numbers at a time, with an admin of its own.
async fn process(store: &Arc<dyn ItemStore>, block: u64) -> (Docket, Principal) {
    let docket = Docket::new(store.clone(), Arc::new(SystemClock)).with_case_number_block(block);
    let admin = docket.create_user_unchecked("Admin", &format!("admin-{}@numbers.test", ulid::Ulid::new()), Role::Admin).await.expect("admin");
    (docket, Principal::Staff(admin))
}

async fn open(docket: &Docket, admin: &Principal, subject: &str) -> u64 {
    let new = Cases::parse_new(admin, json!({"subject": subject})).expect("valid case");
    docket.cases().create(admin, new, None).await.expect("case created").case.number
}

async fn numbers_taken_in_blocks_are_used_in_order_and_go_back_on_a_stop(engine: Engine) {
    // GIVEN a process taking five numbers at a time, which opens two cases
    let store = docket_e2e::store(engine).await;
    let (first, admin) = process(&store, 5).await;
    assert_eq!((open(&first, &admin, "one").await, open(&first, &admin, "two").await), (1, 2));
    // WHEN it stops in order THEN its three unused numbers go back, and the next process counts on
    assert_eq!(first.give_back_case_numbers().await.expect("given back"), 3);
    assert_eq!(first.give_back_case_numbers().await.expect("nothing left"), 0);
    let (second, admin) = process(&store, 5).await;
    assert_eq!(open(&second, &admin, "three").await, 3);
    // WHEN another process takes a number after the second's block THEN the second's unused
    // numbers (4 and 5) cannot go back: they stay a gap, and nothing is ever numbered twice
    let (third, other_admin) = process(&store, 1).await;
    assert_eq!(open(&third, &other_admin, "eight").await, 8);
    assert_eq!(second.give_back_case_numbers().await.expect("refused quietly"), 0);
    assert_eq!(open(&third, &other_admin, "nine").await, 9);
}

async fn concurrent_creations_of_two_processes_never_share_a_number(engine: Engine) {
    // GIVEN a process taking blocks of four
    let store = docket_e2e::store(engine).await;
    let (blocks, admin) = process(&store, 4).await;
    // WHEN it opens ten cases at the same time THEN they take 1 to 10: callers finding no number
    // wait for the one taking a block instead of each taking one (which would leave holes)
    let mut opened = futures_util::future::join_all((0..10).map(|i| {
        let (blocks, admin) = (&blocks, &admin);
        async move { open(blocks, admin, &format!("rush {i}")).await }
    }))
    .await;
    opened.sort();
    assert_eq!(opened, (1..=10).collect::<Vec<u64>>());
    // GIVEN a second process on the store, taking a number at a time
    let (single, other_admin) = process(&store, 1).await;
    // WHEN each opens six cases at the same time
    let opened = futures_util::future::join_all((0..12).map(|i| {
        let (docket, admin) = if i % 2 == 0 { (&blocks, &admin) } else { (&single, &other_admin) };
        async move { open(docket, admin, &format!("case {i}")).await }
    }))
    .await;
    // THEN all twelve are numbered, each number once
    let mut numbers = opened.clone();
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 12, "{opened:?}");
}
