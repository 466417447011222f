//! Case events (SPEC F40, F41): what the domain announces on the assign queue after a change is
//! committed, for the worker that assigns new cases and runs workflow rules.
//!
//! An event names the case and, where it has one, the stream entry; the worker reads the case as
//! it is when the event is worked. Events of one case share a FIFO group (SQS FIFO on AWS), so
//! they are worked in order. `depth` counts the workflow-rule runs that led to the change: rules
//! stop at [`MAX_RULE_DEPTH`], so rules that trigger each other cannot loop.

use crate::ids::*;
use serde::{Deserialize, Serialize};

/// Rule runs in a row after which rules no longer run on the changes they make.
pub const MAX_RULE_DEPTH: u8 = 3;

/// What happened to a case; also the trigger of a workflow rule.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    CaseCreated,
    CaseUpdated,
    /// A post (by an agent, a customer or a rule) was added to the stream.
    EntryAdded,
    /// Mail was received into the case (a new case by email also gets `case_created`).
    EmailReceived,
    /// An SLA clock used its agreement's warning share of the target (once per clock run;
    /// the event's `changed` names the clock).
    SlaWarning,
    /// An SLA clock's target ran out before it was met (once per clock run; `changed` names
    /// the clock).
    SlaBreached,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::CaseCreated => "case_created",
            Trigger::CaseUpdated => "case_updated",
            Trigger::EntryAdded => "entry_added",
            Trigger::EmailReceived => "email_received",
            Trigger::SlaWarning => "sla_warning",
            Trigger::SlaBreached => "sla_breached",
        }
    }
}

/// The body of an assign-queue message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CaseEvent {
    /// Unique per event: redeliveries of it are recognised by it.
    pub event_id: String,
    pub trigger: Trigger,
    pub case_id: CaseId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_id: Option<String>,
    /// For `case_updated`: the fields that changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
    #[serde(default)]
    pub depth: u8,
}
