// Names for the contract's schemas, as the console uses them.
import type { Schemas } from './client';

export type Case = Schemas['StaffCase'];
export type CaseView = Schemas['CaseView'];
export type CasePatch = Schemas['CaseFieldsPatch'];
export type CaseFields = Schemas['CaseFields'];
export type CaseStatus = Schemas['CaseStatus'];
export type Priority = Schemas['Priority'];
export type Source = Schemas['Source'];
export type StreamEntry = Schemas['StreamEntry'];
export type SystemEvent = Schemas['SystemEvent'];
export type AttachmentRef = Schemas['AttachmentRef'];
export type Follow = Schemas['Follow'];
export type Me = Schemas['Me'];
export type User = Schemas['User'];
export type UserFields = Schemas['UserFields'];
export type Team = Schemas['Team'];
export type Account = Schemas['Account'];
export type Contact = Schemas['Contact'];
export type Mailbox = Schemas['Mailbox'];
export type Settings = Schemas['Settings'];
export type Article = Schemas['Article'];
export type ArticleView = Schemas['ArticleView'];
export type WebForm = Schemas['WebForm'];
export type InboundLogEntry = Schemas['InboundLogEntry'];
export type InboundOutcome = Schemas['InboundOutcome'];
export type WorkflowRule = Schemas['WorkflowRule'];
export type WorkflowRuleFields = Schemas['WorkflowRuleFields'];
export type RuleAction = Schemas['RuleAction'];
export type RuleCondition = Schemas['RuleCondition'];
export type AssignmentRule = Schemas['AssignmentRule'];
export type Calendar = Schemas['Calendar'];
export type CalendarFields = Schemas['CalendarFields'];
export type Holiday = Schemas['Holiday'];
export type Interval = Schemas['Interval'];
export type ServiceAgreement = Schemas['ServiceAgreement'];
export type ServiceAgreementFields = Schemas['ServiceAgreementFields'];
export type PriorityTargets = Schemas['PriorityTargets'];
export type Targets = Schemas['Targets'];
export type AppliesTo = Schemas['AppliesTo'];
export type SlaView = Schemas['SlaView'];
export type ClockView = Schemas['ClockView'];

export const STATUSES: CaseStatus[] = ['New', 'Assigned', 'InProgress', 'Reopened', 'Pending', 'Resolved', 'Closed', 'Rejected', 'Duplicate', 'Cancelled'];
export const PRIORITIES: Priority[] = ['Low', 'Normal', 'High', 'Urgent'];
export const SOURCES: Source[] = ['email', 'web_form', 'portal', 'api', 'phone', 'workflow'];
export const CASE_TYPES = ['Question', 'Incident', 'Problem', 'Request'];
export const OUTCOMES: InboundOutcome[] = ['created', 'new_linked', 'appended', 'reopened', 'duplicate', 'suppressed', 'dropped', 'junk', 'rejected', 'quarantined'];

/** Staff cases carry the staff-only fields (a portal case has a display number too). */
export function isStaffCase(c: CaseView): c is Case {
  return 'source' in c && 'internal' in c;
}

export function isStaffArticle(a: ArticleView): a is Article {
  return 'status' in a;
}
