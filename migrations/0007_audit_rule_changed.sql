-- The audit log speaks one vocabulary (src/domain/audit_events.ts): rule imports were written as
-- `rules_changed` while every other rule change was `rule_changed`. One name now, for old rows too.
UPDATE audit_events SET event = 'rule_changed' WHERE event = 'rules_changed';
