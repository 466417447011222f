//! Every end-to-end and cross-engine suite of Docket, in one test binary: the suites share the
//! expensive part of a test executable (the AWS SDK, the whole workspace), so linking it once
//! instead of once per suite takes minutes off the test command. Run one suite with
//! `cargo test -p docket-e2e --test e2e <suite>::`.

mod api;
mod api_events;
mod assignment;
mod blob_conformance;
mod case_console;
mod case_numbers;
mod conformance;
mod directory_search;
mod exactly_once;
mod inbound;
mod inbound_corpus;
mod inbound_function;
mod inbound_fuzz;
mod inbound_log_filter;
mod knowledge;
mod large_attachments;
mod mailer_conformance;
mod notify;
mod openapi;
mod outbox_stream;
mod portal;
mod queue_conformance;
mod service_agreements;
mod signin;
mod sla_clocks;
mod sla_watch;
mod spawn;
mod trust;
mod webform;
mod workflow;
